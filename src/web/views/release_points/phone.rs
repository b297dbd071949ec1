//! Phone release by QR code: the label on a printer carries `/r/{guid}`; a phone's
//! camera opens it. The owner signs in once (the phone keeps a revocable session of at
//! most 90 days from sign-in, scoped to these pages, under the same sign-in limits as
//! the login form), then releases all held jobs here in one tap and watches them
//! print. No app to install.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Fields, HeldTotals, cleared_cookie, page_with_presession, scoped_cookie};
use crate::db::PrinterRow;
use crate::identity::station_sessions::DEVICE_SESSION_SECS;
use crate::identity::{ClientInfo, SessionToken, User};
use crate::release::{ReleaseVia, printer_state_label};
use crate::web::AppState;
use crate::web::error::{PageError, Problem, refused_in_place};
use crate::web::extract::{AnonymousForm, CsrfOnly, csrf_field};
use crate::web::views::releasing::{ReleaseLine, any_active};
use crate::web::views::{Page, redirect, render};

pub const DEVICE_COOKIE: &str = "pp_device";
/// The phone's cookie covers every printer's QR page, not one printer.
pub const DEVICE_PATH: &str = "/r";

#[derive(Template)]
#[template(path = "phone.html")]
struct PhonePage {
    page: Page,
    guid: String,
    location: String,
    printer_state: &'static str,
    person: String,
    signed_in: bool,
    /// What "Print all here" prints, said before it is pressed (issue 20).
    totals: HeldTotals,
    releases: Vec<ReleaseLine>,
    refresh: bool,
    login: String,
    /// "Sign in with …" buttons (issue 16, oidc).
    sso: Vec<crate::web::views::sso_buttons::SsoButton>,
}

async fn person(req: &HttpRequest, state: &AppState) -> Option<(User, SessionToken)> {
    let token = SessionToken(req.cookie(DEVICE_COOKIE)?.value().to_owned());
    let principal = state
        .services
        .identity
        .session_of(&token, "device")
        .await
        .ok()?;
    Some((principal.user, token))
}

async fn show(
    req: &HttpRequest,
    state: &AppState,
    printer: &PrinterRow,
    user: Option<&User>,
    notice: Option<String>,
    error: Option<String>,
    login: String,
) -> Result<HttpResponse, PageError> {
    let (mut page, pre_cookie) = page_with_presession(req, state, &printer.name);
    page.notice = notice;
    page.error = error.or_else(|| {
        printer
            .disabled
            .then(|| "This printer is disabled; use another one.".to_string())
    });
    let (totals, releases) = match user {
        Some(user) => {
            let jobs = state.services.jobs.held_jobs_of(user).await?;
            let releases: Vec<ReleaseLine> = state
                .services
                .release
                .recent_of(user, 3600)
                .await?
                .iter()
                .filter(|r| r.printer_id == printer.id)
                .map(ReleaseLine::from)
                .collect();
            (HeldTotals::of(&jobs), releases)
        }
        None => (HeldTotals::of(&[]), Vec::new()),
    };
    let refresh = any_active(&releases);
    let mut response = render(&PhonePage {
        page,
        guid: printer.guid.clone(),
        location: printer.location.clone(),
        printer_state: printer_state_label(printer),
        person: user
            .map(|u| u.display_name().to_owned())
            .unwrap_or_default(),
        signed_in: user.is_some(),
        totals,
        releases,
        refresh,
        login,
        sso: match user {
            Some(_) => Vec::new(),
            None => crate::web::views::sso_buttons::sso_buttons(state, Some(&printer.guid)).await,
        },
    })?;
    if let Some(cookie) = pre_cookie {
        response.add_cookie(&cookie).ok();
    }
    Ok(response)
}

/// `GET /r/{guid}`: what the QR code opens.
pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let who = person(&req, &state).await;
    show(
        &req,
        &state,
        &printer,
        who.as_ref().map(|(u, _)| u),
        None,
        None,
        String::new(),
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

csrf_field!(LoginForm);

fn here(printer: &PrinterRow) -> String {
    format!("/r/{}", printer.guid)
}

/// `POST /r/{guid}/login`: the owner signs in; the phone keeps the session.
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let identity = &state.services.identity;
    match identity
        .login_device(&form.login, &form.password, &client)
        .await
    {
        Ok(user) => {
            let token = identity.open_session(&user, "device", &client).await?;
            let mut response = redirect(&here(&printer));
            response
                .add_cookie(&scoped_cookie(
                    DEVICE_COOKIE,
                    &token.0,
                    DEVICE_PATH.into(),
                    Some(DEVICE_SESSION_SECS),
                ))
                .ok();
            Ok(response)
        }
        Err(e) => {
            let problem = Problem::from(e);
            if !problem.shown_in_place() {
                return Err(PageError(problem));
            }
            let response = show(
                &req,
                &state,
                &printer,
                None,
                None,
                Some(problem.message.clone()),
                form.login,
            )
            .await?;
            Ok(refused_in_place(response, &problem))
        }
    }
}

/// `POST /r/{guid}/print-all`: every held job of the signed-in owner, here.
pub async fn print_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    _: AnonymousForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let Some((user, _)) = person(&req, &state).await else {
        return show(
            &req,
            &state,
            &printer,
            None,
            None,
            Some("Sign in first.".into()),
            String::new(),
        )
        .await;
    };
    match state
        .services
        .release
        .release_all(&user, &printer.guid, ReleaseVia::Phone, &client)
        .await
    {
        Ok(ids) => Ok(redirect(&format!(
            "{}?released={}",
            here(&printer),
            ids.len()
        ))),
        Err(e) => {
            let problem = Problem::from(e);
            if problem.status.is_server_error() {
                return Err(PageError(problem));
            }
            show(
                &req,
                &state,
                &printer,
                Some(&user),
                None,
                Some(problem.message),
                String::new(),
            )
            .await
        }
    }
}

/// `POST /r/{guid}/logout`: ends the phone's session.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    _: AnonymousForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    if let Some((_, token)) = person(&req, &state).await {
        state.services.identity.end_session(&token).await?;
    }
    let mut response = redirect(&here(&printer));
    response
        .add_cookie(&cleared_cookie(DEVICE_COOKIE, DEVICE_PATH.into()))
        .ok();
    Ok(response)
}

/// `POST /r/{guid}/{step}` for any other step: the form is checked as for a real
/// step, then the printer looked up, then "not found".
pub async fn unknown_step(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    _: AnonymousForm<Fields>,
) -> Result<HttpResponse, PageError> {
    state.services.printers.by_guid(&path.0).await?;
    Err(PageError(Problem::not_found()))
}
