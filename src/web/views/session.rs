//! Sign in and out.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Page, presession, redirect, render};
use crate::identity::ClientInfo;
use crate::identity::CsrfBinding;
use crate::web::AppState;
use crate::web::auth::{expired_session_cookie, presession_cookie, session_cookie};
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AnonymousForm, CsrfOnly, SignedForm, UserForm, csrf_field};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: Page,
    login: String,
    /// "Sign in with …" buttons (issue 16, oidc).
    sso: Vec<super::sso_buttons::SsoButton>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

csrf_field!(LoginForm);

/// `/`: first run, portal, or sign-in.
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    if state.services.identity.setup_open().await? {
        return Ok(redirect("/setup"));
    }
    if req.cookie(crate::web::auth::SESSION_COOKIE).is_some() {
        return Ok(redirect("/portal"));
    }
    Ok(redirect("/login"))
}

async fn login_page(
    req: &HttpRequest,
    state: &AppState,
    login: String,
    error: Option<String>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, PageError> {
    let (pre, fresh) = presession(req);
    let mut page = Page::bare("Sign in");
    page.csrf = state
        .services
        .identity
        .csrf_token(CsrfBinding::PreSession(&pre));
    page.error = error;
    let sso = super::sso_buttons::sso_buttons(state, None).await;
    let mut response = render(&LoginPage { page, login, sso })?;
    *response.status_mut() = status;
    if fresh {
        response.add_cookie(&presession_cookie(&pre)).ok();
    }
    Ok(response)
}

pub async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if state.services.identity.setup_open().await? {
        return Ok(redirect("/setup"));
    }
    login_page(
        &req,
        &state,
        String::new(),
        None,
        actix_web::http::StatusCode::OK,
    )
    .await
}

pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<LoginForm>,
) -> Result<HttpResponse, PageError> {
    match state
        .services
        .identity
        .login(&form.login, &form.password, &client)
        .await
    {
        Ok((user, token)) => {
            let mut response = redirect(if user.is_admin() { "/admin" } else { "/portal" });
            response.add_cookie(&session_cookie(&token)).ok();
            Ok(response)
        }
        Err(e) => {
            let problem = Problem::from(e);
            let mut response = login_page(
                &req,
                &state,
                form.login.clone(),
                Some(problem.message.clone()),
                problem.status,
            )
            .await?;
            if let Some(secs) = problem.retry_after {
                response
                    .headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, secs.into());
            }
            Ok(response)
        }
    }
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, .. }: UserForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    // A single sign-on session ends at the provider too, when it offers that
    // (asked before the local session, which holds the ID token hint, ends).
    let post_logout = format!("{}/login", super::admin::public_base(&req, &state));
    let provider_logout = state
        .services
        .sso
        .provider_logout_url(&who.token, &who.principal.user, &client, &post_logout)
        .await;
    state
        .services
        .identity
        .logout(&who.token, &who.principal.user, &client)
        .await?;
    let mut response = match provider_logout {
        Some((href, provider)) => super::sso::provider_sign_out_page(href, provider)?,
        None => redirect("/login"),
    };
    response.add_cookie(&expired_session_cookie()).ok();
    Ok(response)
}
