//! The release station: a page bound to one printer, for a tablet next to it or the
//! printer's own browser. A badge (card readers type the number and Enter), login +
//! PIN, or a personal passcode signs a person in for a short while; they print all,
//! or review, change (mono, duplex, fewer copies), print or delete some.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Fields, cleared_cookie, page_with_presession, scoped_cookie};
use crate::db::PrinterRow;
use crate::identity::{AtPrinter, BadgeOutcome, ClientInfo, IdentityError, SessionToken, User};
use crate::jobs::HeldJob;
use crate::release::{JobChoice, ReleaseError, ReleaseVia, printer_state_label};
use crate::web::AppState;
use crate::web::assets;
use crate::web::error::{PageError, Problem, refused_in_place};
use crate::web::extract::{AnonymousForm, CsrfOnly, csrf_field};
use crate::web::views::releasing::{ReleaseLine, any_active};
use crate::web::views::{Page, redirect, render, when};

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

/// The response that signs a person in at this station: back to the station page,
/// with the station session cookie, and any pending badge forgotten.
fn signed_in(here: &str, token: &SessionToken) -> HttpResponse {
    let mut response = redirect(here);
    response
        .add_cookie(&scoped_cookie(STATION_COOKIE, &token.0, here.into(), None))
        .ok();
    response
        .add_cookie(&cleared_cookie(BADGE_COOKIE, here.into()))
        .ok();
    response
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

/// Ends a sign-in step: a session for the person, or the sign-in screen again with
/// why not.
async fn sign_in_outcome(
    req: &HttpRequest,
    state: &AppState,
    printer: &PrinterRow,
    client: &ClientInfo,
    outcome: Result<User, IdentityError>,
    login: String,
) -> Result<HttpResponse, PageError> {
    match outcome {
        Ok(user) => {
            let token = state
                .services
                .identity
                .open_session(&user, "station", client)
                .await?;
            Ok(signed_in(&cookie_path(&printer.guid), &token))
        }
        Err(e) => refused(req, state, printer, e, login).await,
    }
}

fn at(printer: &PrinterRow) -> AtPrinter<'_> {
    AtPrinter {
        guid: &printer.guid,
        name: &printer.name,
    }
}

/// The badge waiting for its PIN or its link (set by the `badge` step).
fn pending_badge(req: &HttpRequest) -> String {
    req.cookie(BADGE_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default()
}

#[derive(serde::Deserialize)]
pub struct BadgeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    badge: String,
}

#[derive(serde::Deserialize)]
pub struct BadgePinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pin: String,
}

/// Login (username or e-mail) and PIN: the `pin` step, and the `link` step that ties
/// a new badge to its owner.
#[derive(serde::Deserialize)]
pub struct LoginPinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    pin: String,
}

#[derive(serde::Deserialize)]
pub struct PasscodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    passcode: String,
}

csrf_field!(BadgeForm, BadgePinForm, LoginPinForm, PasscodeForm);

/// `POST /station/{guid}/badge`: a card reader typed a badge number. A known badge
/// signs in (or asks for the PIN first); an unknown one is kept for linking.
pub async fn badge(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<BadgeForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let identity = &state.services.identity;
    let here = cookie_path(&printer.guid);
    let (mode, notice, pending) = match identity
        .badge_login(&form.badge, at(&printer), &client)
        .await
    {
        Ok(BadgeOutcome::Known(user)) => {
            let token = identity.open_session(&user, "station", &client).await?;
            return Ok(signed_in(&here, &token));
        }
        Ok(BadgeOutcome::Unknown(pending)) => (
            "link",
            Some("This badge is not linked to anyone yet. Sign in once with your username or e-mail and PIN to link it.".into()),
            pending,
        ),
        Ok(BadgeOutcome::NeedsPin(pending)) => ("badge-pin", None, pending),
        Err(e) => return refused(&req, &state, &printer, e, String::new()).await,
    };
    let view = View {
        printer: &printer,
        mode,
        user: None,
        notice,
        error: None,
        login: String::new(),
    };
    let mut response = show(&req, &state, view).await?;
    response
        .add_cookie(&scoped_cookie(BADGE_COOKIE, &pending, here, Some(300)))
        .ok();
    Ok(response)
}

/// `POST /station/{guid}/badge-pin`: the PIN for the badge just read.
pub async fn badge_pin(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<BadgePinForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let outcome = state
        .services
        .identity
        .badge_pin_login(&pending_badge(&req), &form.pin, at(&printer), &client)
        .await;
    sign_in_outcome(&req, &state, &printer, &client, outcome, String::new()).await
}

/// `POST /station/{guid}/link`: login and PIN that link the badge just read to its
/// owner, and sign them in.
pub async fn link(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<LoginPinForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let pending = pending_badge(&req);
    let identity = &state.services.identity;
    match identity
        .link_badge(&pending, &form.login, &form.pin, at(&printer), &client)
        .await
    {
        Ok(user) => {
            let token = identity.open_session(&user, "station", &client).await?;
            Ok(signed_in(&cookie_path(&printer.guid), &token))
        }
        Err(e) => {
            let problem = Problem::from(e);
            let mut view = signin_error(&printer, problem.message.clone(), form.login);
            view.mode = if pending.is_empty() { "signin" } else { "link" };
            Ok(refused_in_place(show(&req, &state, view).await?, &problem))
        }
    }
}

/// `POST /station/{guid}/pin`: login (username or e-mail) and PIN.
pub async fn pin(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<LoginPinForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let outcome = state
        .services
        .identity
        .pin_login(&form.login, &form.pin, at(&printer), &client)
        .await;
    sign_in_outcome(&req, &state, &printer, &client, outcome, form.login).await
}

/// `POST /station/{guid}/passcode`: a personal passcode.
pub async fn passcode(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<PasscodeForm>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let outcome = state
        .services
        .identity
        .passcode_login(&form.passcode, at(&printer), &client)
        .await;
    sign_in_outcome(&req, &state, &printer, &client, outcome, String::new()).await
}

/// `POST /station/{guid}/logout`.
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
    let here = cookie_path(&printer.guid);
    let mut response = redirect(&here);
    response
        .add_cookie(&cleared_cookie(STATION_COOKIE, here.clone()))
        .ok();
    Ok(response)
}

/// The sign-in screen when a release step finds nobody signed in any more.
async fn signed_out(
    req: &HttpRequest,
    state: &AppState,
    printer: &PrinterRow,
) -> Result<HttpResponse, PageError> {
    let view = signin_error(
        printer,
        "You were signed out after a while without a touch; sign in again.".into(),
        String::new(),
    );
    show(req, state, view).await
}

/// After a release: the printing view, or the page again with why not.
async fn released(
    req: &HttpRequest,
    state: &AppState,
    printer: &PrinterRow,
    user: &User,
    mode: &'static str,
    result: Result<Vec<i64>, ReleaseError>,
) -> Result<HttpResponse, PageError> {
    match result {
        Ok(_) => Ok(redirect(&format!(
            "{}?view=printing",
            cookie_path(&printer.guid)
        ))),
        Err(e) => {
            let problem = Problem::from(e);
            if problem.status.is_server_error() {
                return Err(PageError(problem));
            }
            let view = View {
                printer,
                mode,
                user: Some(user),
                notice: None,
                error: Some(problem.message),
                login: String::new(),
            };
            show(req, state, view).await
        }
    }
}

/// `POST /station/{guid}/print-all`: every held job, as submitted.
pub async fn print_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    _: AnonymousForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let Some((user, _)) = person(&req, &state).await else {
        return signed_out(&req, &state, &printer).await;
    };
    let result = state
        .services
        .release
        .release_all(&user, &printer.guid, ReleaseVia::Station, &client)
        .await;
    released(&req, &state, &printer, &user, "jobs", result).await
}

/// `POST /station/{guid}/release`: the review form — print the ticked jobs with the
/// changes made (fewer copies, mono, duplex), or delete them (`action=delete`).
pub async fn release(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<Fields>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let Some((user, _)) = person(&req, &state).await else {
        return signed_out(&req, &state, &printer).await;
    };
    if form.get("action") == Some("delete") {
        let mut deleted = 0;
        for id in picked(&form) {
            state.services.jobs.delete(&user, id, &client).await?;
            deleted += 1;
        }
        let view = View {
            printer: &printer,
            mode: "review",
            user: Some(&user),
            notice: Some(format!("{deleted} document(s) deleted.")),
            error: None,
            login: String::new(),
        };
        return show(&req, &state, view).await;
    }
    let choices: Vec<JobChoice> = picked(&form)
        .into_iter()
        .map(|id| JobChoice {
            job_id: id,
            copies: form
                .get(&format!("copies-{id}"))
                .and_then(|c| c.trim().parse().ok()),
            mono: form.get(&format!("mono-{id}")).is_some(),
            duplex: form.get(&format!("duplex-{id}")).is_some(),
        })
        .collect();
    let result = if choices.is_empty() {
        Err(ReleaseError::NotAllowed(
            "Select at least one document.".into(),
        ))
    } else {
        state
            .services
            .release
            .release(&user, &printer.guid, &choices, ReleaseVia::Station, &client)
            .await
    };
    released(&req, &state, &printer, &user, "review", result).await
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

/// The sign-in screen again with why the attempt was refused (429 and `Retry-After`
/// when the station's limits hold this address back).
async fn refused(
    req: &HttpRequest,
    state: &AppState,
    printer: &PrinterRow,
    error: IdentityError,
    login: String,
) -> Result<HttpResponse, PageError> {
    let problem = Problem::from(error);
    if problem.status.is_server_error() {
        return Err(PageError(problem));
    }
    let response = show(
        req,
        state,
        signin_error(printer, problem.message.clone(), login),
    )
    .await?;
    Ok(refused_in_place(response, &problem))
}

/// The job ids ticked on the review form.
fn picked(form: &Fields) -> Vec<i64> {
    form.0
        .iter()
        .filter(|(k, _)| k == "pick")
        .filter_map(|(_, v)| v.parse().ok())
        .collect()
}
