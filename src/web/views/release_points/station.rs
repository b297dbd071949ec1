//! The release station: a page bound to one printer, for a tablet next to it or the
//! printer's own browser. A badge (card readers type the number and Enter), login +
//! PIN, or a personal passcode signs a person in for a short while; they print all,
//! or review, change (mono, duplex, fewer copies), print or delete some. This file
//! holds the page; each step posted from it has its own handler, the sign-in steps in
//! `station/sign_in.rs`, the printing steps in `station/printing.rs`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Fields, HeldTotals, cleared_cookie, page_with_presession};
use crate::db::PrinterRow;
use crate::identity::{SessionToken, User};
use crate::jobs::{ColorMode, HeldJob};
use crate::release::printer_state_label;
use crate::web::AppState;
use crate::web::assets;
use crate::web::error::{PageError, Problem};
use crate::web::extract::AnonymousForm;
use crate::web::page::LongName;
use crate::web::views::releasing::{ReleaseLine, any_active};
use crate::web::views::{Page, render, when};

pub mod printing;
pub mod sign_in;

const STATION_COOKIE: &str = "pp_station";
const BADGE_COOKIE: &str = "pp_badge";

/// A held job on the station's review list.
pub struct StationJob {
    pub id: i64,
    pub name: LongName,
    pub submitted: String,
    pub pages: String,
    pub color: bool,
    pub copies: i64,
    pub duplex: bool,
    /// "Mono" is offered: a colour job on a printer that can print colour (a mono
    /// printer prints it in black and white anyway).
    pub offer_mono: bool,
    /// "Two-sided" is offered: a one-sided job on a printer not known to be one-sided.
    pub offer_duplex: bool,
}

impl StationJob {
    /// A held job as this printer can print it (issue 20: no choice it cannot do).
    fn new(job: &HeldJob, printer: &PrinterRow) -> Self {
        let color = job.color != Some(false) && job.color_mode != ColorMode::Monochrome;
        let duplex = job.sides.is_two_sided();
        Self {
            id: job.id,
            name: LongName::new(&job.name),
            submitted: when(job.submitted_at),
            pages: job
                .pages
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into()),
            color,
            copies: job.copies,
            duplex,
            offer_mono: color && printer.color_supported != Some(false),
            offer_duplex: !duplex && printer.duplex_supported != Some(false),
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
    /// What "Print all" prints, shown on and above its button.
    totals: HeldTotals,
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
    let (jobs, totals, releases) = match view.user {
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
            (
                jobs.iter()
                    .map(|j| StationJob::new(j, view.printer))
                    .collect(),
                HeldTotals::of(&jobs),
                releases,
            )
        }
        None => (Vec::new(), HeldTotals::of(&[]), Vec::new()),
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
        totals,
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
    let flash = signed_in
        .as_ref()
        .and_then(|(_, token)| state.flash.take(token, &cookie_path(&printer.guid)));
    let mut view = View {
        printer: &printer,
        mode,
        user,
        notice: flash.and_then(|f| f.notice),
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

/// The sign-in screen with an error, and the login typed so far.
fn signin_error(printer: &PrinterRow, error: String, login: String) -> View<'_> {
    View {
        printer,
        mode: "signin",
        user: None,
        notice: None,
        error: Some(error),
        login,
    }
}

/// `POST /station/{guid}/{step}` for any other step: the form is checked as for a
/// real step, then the printer looked up, then "not found".
pub async fn unknown_step(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    _: AnonymousForm<Fields>,
) -> Result<HttpResponse, PageError> {
    state.services.printers.by_guid(&path.0).await?;
    Err(PageError(Problem::not_found()))
}
