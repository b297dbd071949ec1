//! Phone release by QR code: the label on a printer carries `/r/{guid}`; a phone's
//! camera opens it. The owner signs in once (the phone keeps a revocable session of at
//! most 90 days from sign-in, scoped to these pages, under the same sign-in limits as
//! the login form), then releases all held jobs here in one tap and watches them
//! print. No app to install.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::releasing::{
    ReleaseLine, any_active, cleared_cookie, field, page_with_presession, scoped_cookie,
};
use super::{Page, redirect, render};
use crate::db::PrinterRow;
use crate::identity::station::DEVICE_SESSION_SECS;
use crate::identity::{SessionToken, User};
use crate::release::{ReleaseVia, printer_state_label};
use crate::web::AppState;
use crate::web::auth::{check_anonymous_form, client_info};
use crate::web::error::{PageError, Problem, refused_in_place};

const DEVICE_COOKIE: &str = "pp_device";
/// The phone's cookie covers every printer's QR page, not one printer.
const DEVICE_PATH: &str = "/r";

#[derive(Template)]
#[template(path = "phone.html")]
struct PhonePage {
    page: Page,
    guid: String,
    location: String,
    printer_state: &'static str,
    person: String,
    signed_in: bool,
    held: usize,
    held_pages: i64,
    releases: Vec<ReleaseLine>,
    refresh: bool,
    login: String,
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
    let (held, held_pages, releases) = match user {
        Some(user) => {
            let jobs = state.services.jobs.held_jobs_of(user).await?;
            let pages = jobs.iter().map(|j| j.pages.unwrap_or(0) * j.copies).sum();
            let releases: Vec<ReleaseLine> = state
                .services
                .release
                .recent_of(user, 3600)
                .await?
                .iter()
                .filter(|r| r.printer_id == printer.id)
                .map(ReleaseLine::from)
                .collect();
            (jobs.len(), pages, releases)
        }
        None => (0, 0, Vec::new()),
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
        held,
        held_pages,
        releases,
        refresh,
        login,
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

/// `POST /r/{guid}/{step}`: login, print-all, logout.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let (guid, step) = path.into_inner();
    check_anonymous_form(&req, &state, field(&form, "csrf").unwrap_or(""))?;
    let printer = state.services.printers.by_guid(&guid).await?;
    let client = client_info(&req);
    let identity = &state.services.identity;
    let here = format!("/r/{}", printer.guid);
    let text = |name: &str| field(&form, name).unwrap_or("").to_owned();
    match step.as_str() {
        "login" => match identity
            .login_device(&text("login"), &text("password"), &client)
            .await
        {
            Ok(user) => {
                let token = identity.open_session(&user, "device", &client).await?;
                let mut response = redirect(&here);
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
                if problem.status.is_server_error() {
                    return Err(PageError(problem));
                }
                let response = show(
                    &req,
                    &state,
                    &printer,
                    None,
                    None,
                    Some(problem.message.clone()),
                    text("login"),
                )
                .await?;
                Ok(refused_in_place(response, &problem))
            }
        },
        "print-all" => {
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
                Ok(ids) => Ok(redirect(&format!("{here}?released={}", ids.len()))),
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
        "logout" => {
            if let Some((_, token)) = person(&req, &state).await {
                identity.end_session(&token).await?;
            }
            let mut response = redirect(&here);
            response
                .add_cookie(&cleared_cookie(DEVICE_COOKIE, DEVICE_PATH.into()))
                .ok();
            Ok(response)
        }
        _ => Err(PageError(Problem::not_found())),
    }
}
