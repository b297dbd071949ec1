//! The release station: a page bound to one printer, for a tablet next to it or the
//! printer's own browser. A badge (card readers type the number and Enter), login +
//! PIN, or a personal passcode signs a person in for a short while; they print all,
//! or review, change (mono, duplex, fewer copies), print or delete some.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::releasing::{
    ReleaseLine, any_active, cleared_cookie, field, page_with_presession, scoped_cookie,
};
use super::{Page, redirect, render, when};
use crate::db::PrinterRow;
use crate::identity::{AtPrinter, BadgeOutcome, SessionToken, User};
use crate::jobs::HeldJob;
use crate::release::{JobChoice, ReleaseVia, printer_state_label};
use crate::web::AppState;
use crate::web::assets;
use crate::web::auth::{check_anonymous_form, client_info};
use crate::web::error::{PageError, Problem, refused_in_place};

const STATION_COOKIE: &str = "pp_station";
const BADGE_COOKIE: &str = "pp_badge";

/// A held job on the station's review list.
pub struct StationJob {
    pub id: i64,
    pub name: String,
    pub submitted: String,
    pub pages: String,
    pub color: bool,
    pub copies: i64,
    pub duplex: bool,
}

impl From<&HeldJob> for StationJob {
    fn from(job: &HeldJob) -> Self {
        Self {
            id: job.id,
            name: job.name.clone(),
            submitted: when(job.submitted_at),
            pages: job
                .pages
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into()),
            color: job.color != Some(false) && job.color_mode != "monochrome",
            copies: job.copies,
            duplex: job.sides != "one-sided",
        }
    }
}

#[derive(Template)]
#[template(path = "station.html")]
struct StationPage {
    page: Page,
    guid: String,
    location: String,
    printer_state: &'static str,
    /// `signin`, `link`, `badge-pin`, `jobs` or `review`.
    mode: &'static str,
    person: String,
    jobs: Vec<StationJob>,
    releases: Vec<ReleaseLine>,
    refresh: bool,
    login: String,
    station_js: String,
}

#[derive(serde::Deserialize)]
pub struct StationQuery {
    #[serde(default)]
    view: String,
}

fn cookie_path(guid: &str) -> String {
    format!("/station/{guid}")
}

/// The person signed in at this station, if any.
async fn person(req: &HttpRequest, state: &AppState) -> Option<(User, SessionToken)> {
    let token = SessionToken(req.cookie(STATION_COOKIE)?.value().to_owned());
    let principal = state
        .services
        .identity
        .session_of(&token, "station")
        .await
        .ok()?;
    Some((principal.user, token))
}

struct View<'a> {
    printer: &'a PrinterRow,
    mode: &'static str,
    user: Option<&'a User>,
    notice: Option<String>,
    error: Option<String>,
    login: String,
}

async fn show(
    req: &HttpRequest,
    state: &AppState,
    view: View<'_>,
) -> Result<HttpResponse, PageError> {
    let (mut page, pre_cookie) = page_with_presession(req, state, &view.printer.name);
    page.notice = view.notice;
    page.error = view.error;
    let (jobs, releases) = match view.user {
        Some(user) => {
            let jobs = state.services.jobs.held_jobs_of(user).await?;
            let releases: Vec<ReleaseLine> = state
                .services
                .release
                .recent_of(user, 600)
                .await?
                .iter()
                .filter(|r| r.printer_id == view.printer.id)
                .map(ReleaseLine::from)
                .collect();
            (jobs.iter().map(StationJob::from).collect(), releases)
        }
        None => (Vec::new(), Vec::new()),
    };
    let refresh = any_active(&releases);
    let mut response = render(&StationPage {
        page,
        guid: view.printer.guid.clone(),
        location: view.printer.location.clone(),
        printer_state: printer_state_label(view.printer),
        mode: view.mode,
        person: view
            .user
            .map(|u| u.display_name().to_owned())
            .unwrap_or_default(),
        jobs,
        releases,
        refresh,
        login: view.login,
        station_js: assets::url("station.js"),
    })?;
    if let Some(cookie) = pre_cookie {
        response.add_cookie(&cookie).ok();
    }
    Ok(response)
}

/// `GET /station/{guid}`: the sign-in screen, or the signed-in person's documents.
pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    query: web::Query<StationQuery>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let signed_in = person(&req, &state).await;
    let user = signed_in.as_ref().map(|(u, _)| u);
    let mode = match (user, query.view.as_str()) {
        (None, _) => "signin",
        (Some(_), "review") => "review",
        (Some(_), _) => "jobs",
    };
    let mut view = View {
        printer: &printer,
        mode,
        user,
        notice: None,
        error: printer
            .disabled
            .then(|| "This printer is disabled; use another one.".to_string()),
        login: String::new(),
    };
    // After printing, once nothing is on its way any more, the station signs out.
    if let (Some((user, token)), "printing") = (&signed_in, query.view.as_str()) {
        let recent = state.services.release.recent_of(user, 600).await?;
        let lines: Vec<ReleaseLine> = recent
            .iter()
            .filter(|r| r.printer_id == printer.id)
            .map(ReleaseLine::from)
            .collect();
        if !any_active(&lines) {
            state.services.identity.end_session(token).await?;
            let printed = lines.iter().filter(|l| l.class == "done").count();
            let failed: Vec<String> = lines
                .iter()
                .filter(|l| l.class == "failed")
                .map(|l| format!("{}: {}", l.job, l.reason))
                .collect();
            view.user = None;
            view.mode = "signin";
            view.notice = Some(format!(
                "{printed} document(s) printed. You are signed out."
            ));
            if !failed.is_empty() {
                view.error = Some(format!("Not printed — {}", failed.join("; ")));
            }
            let mut response = show(&req, &state, view).await?;
            response
                .add_cookie(&cleared_cookie(STATION_COOKIE, cookie_path(&printer.guid)))
                .ok();
            return Ok(response);
        }
    }
    show(&req, &state, view).await
}

/// `POST /station/{guid}/{step}`: badge, badge-pin, link, pin, passcode, print-all,
/// release, logout.
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
    let at = AtPrinter {
        guid: &printer.guid,
        name: &printer.name,
    };
    let here = cookie_path(&printer.guid);
    let text = |name: &str| field(&form, name).unwrap_or("").to_owned();
    let signin_error = |error: String, login: String| View {
        printer: &printer,
        mode: "signin",
        user: None,
        notice: None,
        error: Some(error),
        login,
    };
    let signed_in = |token: SessionToken| {
        let mut response = redirect(&here);
        response
            .add_cookie(&scoped_cookie(STATION_COOKIE, &token.0, here.clone(), None))
            .ok();
        response
            .add_cookie(&cleared_cookie(BADGE_COOKIE, here.clone()))
            .ok();
        response
    };
    match step.as_str() {
        "badge" => match identity.badge_login(&text("badge"), at, &client).await {
            Ok(BadgeOutcome::Known(user)) => {
                let token = identity.open_session(&user, "station", &client).await?;
                Ok(signed_in(token))
            }
            Ok(BadgeOutcome::Unknown(pending)) => {
                let mut response = show(
                    &req,
                    &state,
                    View {
                        printer: &printer,
                        mode: "link",
                        user: None,
                        notice: Some("This badge is not linked to anyone yet. Sign in once with your username or e-mail and PIN to link it.".into()),
                        error: None,
                        login: String::new(),
                    },
                )
                .await?;
                response
                    .add_cookie(&scoped_cookie(
                        BADGE_COOKIE,
                        &pending,
                        here.clone(),
                        Some(300),
                    ))
                    .ok();
                Ok(response)
            }
            Ok(BadgeOutcome::NeedsPin(pending)) => {
                let mut response = show(
                    &req,
                    &state,
                    View {
                        printer: &printer,
                        mode: "badge-pin",
                        user: None,
                        notice: None,
                        error: None,
                        login: String::new(),
                    },
                )
                .await?;
                response
                    .add_cookie(&scoped_cookie(
                        BADGE_COOKIE,
                        &pending,
                        here.clone(),
                        Some(300),
                    ))
                    .ok();
                Ok(response)
            }
            Err(e) => refused(&req, &state, signin_error, e, String::new()).await,
        },
        "badge-pin" => {
            let pending = req
                .cookie(BADGE_COOKIE)
                .map(|c| c.value().to_owned())
                .unwrap_or_default();
            match identity
                .badge_pin_login(&pending, &text("pin"), at, &client)
                .await
            {
                Ok(user) => {
                    let token = identity.open_session(&user, "station", &client).await?;
                    Ok(signed_in(token))
                }
                Err(e) => refused(&req, &state, signin_error, e, String::new()).await,
            }
        }
        "link" => {
            let pending = req
                .cookie(BADGE_COOKIE)
                .map(|c| c.value().to_owned())
                .unwrap_or_default();
            match identity
                .link_badge(&pending, &text("login"), &text("pin"), at, &client)
                .await
            {
                Ok(user) => {
                    let token = identity.open_session(&user, "station", &client).await?;
                    Ok(signed_in(token))
                }
                Err(e) => {
                    let problem = Problem::from(e);
                    let mut view = signin_error(problem.message.clone(), text("login"));
                    view.mode = if pending.is_empty() { "signin" } else { "link" };
                    Ok(refused_in_place(show(&req, &state, view).await?, &problem))
                }
            }
        }
        "pin" => match identity
            .pin_login(&text("login"), &text("pin"), at, &client)
            .await
        {
            Ok(user) => {
                let token = identity.open_session(&user, "station", &client).await?;
                Ok(signed_in(token))
            }
            Err(e) => refused(&req, &state, signin_error, e, text("login")).await,
        },
        "passcode" => match identity
            .passcode_login(&text("passcode"), at, &client)
            .await
        {
            Ok(user) => {
                let token = identity.open_session(&user, "station", &client).await?;
                Ok(signed_in(token))
            }
            Err(e) => refused(&req, &state, signin_error, e, String::new()).await,
        },
        "logout" => {
            if let Some((_, token)) = person(&req, &state).await {
                identity.end_session(&token).await?;
            }
            let mut response = redirect(&here);
            response
                .add_cookie(&cleared_cookie(STATION_COOKIE, here.clone()))
                .ok();
            Ok(response)
        }
        "print-all" | "release" => {
            let Some((user, _)) = person(&req, &state).await else {
                return show(
                    &req,
                    &state,
                    signin_error(
                        "You were signed out after a while without a touch; sign in again.".into(),
                        String::new(),
                    ),
                )
                .await;
            };
            let release = &state.services.release;
            let result = if step == "print-all" {
                release
                    .release_all(&user, &printer.guid, ReleaseVia::Station, &client)
                    .await
            } else if field(&form, "action") == Some("delete") {
                let mut deleted = 0;
                for id in picked(&form) {
                    state.services.jobs.delete(&user, id, &client).await?;
                    deleted += 1;
                }
                return show(
                    &req,
                    &state,
                    View {
                        printer: &printer,
                        mode: "review",
                        user: Some(&user),
                        notice: Some(format!("{deleted} document(s) deleted.")),
                        error: None,
                        login: String::new(),
                    },
                )
                .await;
            } else {
                let choices: Vec<JobChoice> = picked(&form)
                    .into_iter()
                    .map(|id| JobChoice {
                        job_id: id,
                        copies: field(&form, &format!("copies-{id}"))
                            .and_then(|c| c.trim().parse().ok()),
                        mono: field(&form, &format!("mono-{id}")).is_some(),
                        duplex: field(&form, &format!("duplex-{id}")).is_some(),
                    })
                    .collect();
                if choices.is_empty() {
                    Err(crate::release::ReleaseError::NotAllowed(
                        "Select at least one document.".into(),
                    ))
                } else {
                    release
                        .release(&user, &printer.guid, &choices, ReleaseVia::Station, &client)
                        .await
                }
            };
            match result {
                Ok(_) => Ok(redirect(&format!("{here}?view=printing"))),
                Err(e) => {
                    let problem = Problem::from(e);
                    if problem.status.is_server_error() {
                        return Err(PageError(problem));
                    }
                    show(
                        &req,
                        &state,
                        View {
                            printer: &printer,
                            mode: if step == "release" { "review" } else { "jobs" },
                            user: Some(&user),
                            notice: None,
                            error: Some(problem.message),
                            login: String::new(),
                        },
                    )
                    .await
                }
            }
        }
        _ => Err(PageError(Problem::not_found())),
    }
}

/// The sign-in screen again with why the attempt was refused (429 and `Retry-After`
/// when the station's limits hold this address back).
async fn refused<'a>(
    req: &HttpRequest,
    state: &AppState,
    signin_error: impl Fn(String, String) -> View<'a>,
    error: crate::identity::IdentityError,
    login: String,
) -> Result<HttpResponse, PageError> {
    let problem = Problem::from(error);
    if problem.status.is_server_error() {
        return Err(PageError(problem));
    }
    let response = show(req, state, signin_error(problem.message.clone(), login)).await?;
    Ok(refused_in_place(response, &problem))
}

/// The job ids ticked on the review form.
fn picked(form: &[(String, String)]) -> Vec<i64> {
    form.iter()
        .filter(|(k, _)| k == "pick")
        .filter_map(|(_, v)| v.parse().ok())
        .collect()
}
