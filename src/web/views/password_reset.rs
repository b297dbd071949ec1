//! "Forgot your password?": asking for a reset link (`/forgot-password`) and using it
//! (`/reset-password?token=…`).
//!
//! The token travels in the query string, which the access log never prints (it logs
//! the path only), and the new password's form posts it back in the body. These pages
//! send at most their origin as `Referer` (`Referrer-Policy: strict-origin`), never the
//! path or query, so the link cannot leak through one. Not `no-referrer`: with it a
//! browser sends `Origin: null` with the page's own form, which the CSRF check refuses
//! (as it should, for a post whose origin is unknown).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::public_base;
use super::{Page, presession, render};
use crate::identity::password_reset::RESET_LINK_MINUTES;
use crate::identity::{ClientInfo, CsrfBinding, IdentityError};
use crate::web::AppState;
use crate::web::auth::presession_cookie;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AnonymousForm, csrf_field};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/forgot-password", web::get().to(forgot_form))
        .route("/forgot-password", web::post().to(forgot_submit))
        .route("/reset-password", web::get().to(reset_form))
        .route("/reset-password", web::post().to(reset_submit));
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    page: Page,
    login: String,
    /// E-mail is set up here (else the page says to ask an administrator).
    available: bool,
    /// The request was taken (the same answer whether or not the account exists).
    sent: bool,
    minutes: i64,
}

/// What the reset page shows.
#[derive(PartialEq, Eq)]
enum ResetStep {
    /// Choose the new password.
    Choose,
    /// Done: sign in with it.
    Done,
    /// The link is used, expired or unknown.
    Expired,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage {
    page: Page,
    token: String,
    step: ResetStep,
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

csrf_field!(ForgotForm, ResetForm);

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// A page before sign-in: its form token bound to the pre-session cookie (made if the
/// browser has none), only its origin sent as referrer.
fn anonymous_page(
    req: &HttpRequest,
    state: &AppState,
    page: Page,
    body: impl FnOnce(Page) -> Result<HttpResponse, PageError>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let (pre, fresh) = presession(req);
    let mut page = page;
    page.csrf = state
        .services
        .identity
        .csrf_token(CsrfBinding::PreSession(&pre));
    let mut response = body(page)?;
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin"),
    );
    if fresh {
        response.add_cookie(&presession_cookie(&pre)).ok();
    }
    Ok(response)
}

async fn forgot_page(
    req: &HttpRequest,
    state: &AppState,
    login: String,
    sent: bool,
) -> Result<HttpResponse, PageError> {
    let available = state
        .services
        .mailer
        .is_configured()
        .await
        .map_err(|e| PageError(Problem::from(e)))?;
    anonymous_page(
        req,
        state,
        Page::bare("Forgot your password?"),
        |page| {
            render(&ForgotPage {
                page,
                login,
                available,
                sent,
                minutes: RESET_LINK_MINUTES,
            })
        },
        StatusCode::OK,
    )
}

pub async fn forgot_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    forgot_page(&req, &state, String::new(), false).await
}

pub async fn forgot_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<ForgotForm>,
) -> Result<HttpResponse, PageError> {
    let base = public_base(&req, &state);
    state
        .services
        .identity
        .request_password_reset(&state.services.mailer, &form.login, &base, &client)
        .await?;
    forgot_page(&req, &state, String::new(), true).await
}

fn reset_page(
    req: &HttpRequest,
    state: &AppState,
    token: String,
    step: ResetStep,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let title = match step {
        ResetStep::Choose => "Choose a new password",
        ResetStep::Done => "Password changed",
        ResetStep::Expired => "Link expired",
    };
    let mut page = Page::bare(title);
    page.error = error;
    anonymous_page(
        req,
        state,
        page,
        |page| render(&ResetPage { page, token, step }),
        status,
    )
}

pub async fn reset_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let token = query.into_inner().token;
    if state.services.identity.reset_link_valid(&token).await? {
        reset_page(&req, &state, token, ResetStep::Choose, None, StatusCode::OK)
    } else {
        reset_page(
            &req,
            &state,
            String::new(),
            ResetStep::Expired,
            None,
            StatusCode::GONE,
        )
    }
}

pub async fn reset_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<ResetForm>,
) -> Result<HttpResponse, PageError> {
    if form.password != form.password_again {
        return reset_page(
            &req,
            &state,
            form.token,
            ResetStep::Choose,
            Some("The two passwords differ.".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match state
        .services
        .identity
        .reset_password_with_link(&form.token, &form.password, &client)
        .await
    {
        Ok(_) => reset_page(
            &req,
            &state,
            String::new(),
            ResetStep::Done,
            None,
            StatusCode::OK,
        ),
        Err(IdentityError::ResetLinkExpired) => reset_page(
            &req,
            &state,
            String::new(),
            ResetStep::Expired,
            None,
            StatusCode::GONE,
        ),
        Err(e) => {
            let problem = Problem::from(e);
            if problem.status.is_server_error() {
                return Err(PageError(problem));
            }
            reset_page(
                &req,
                &state,
                form.token,
                ResetStep::Choose,
                Some(problem.message),
                problem.status,
            )
        }
    }
}
