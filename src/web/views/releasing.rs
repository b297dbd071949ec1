//! What the release pages (station, phone, portal) share: progress lines, cookies
//! scoped to one printer's pages, and the form token of a page with no browser session.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};

use super::setup::presession;
use super::{Page, when};
use crate::db::ReleaseRow;
use crate::identity::CsrfBinding;
use crate::release::ReleaseState;
use crate::web::AppState;

/// One release as its owner sees it while it runs.
pub struct ReleaseLine {
    pub job: String,
    pub printer: String,
    pub state: &'static str,
    /// `waiting`, `active`, `done`, `failed` (CSS class and test hook).
    pub class: &'static str,
    pub reason: String,
    pub at: String,
}

impl From<&ReleaseRow> for ReleaseLine {
    fn from(r: &ReleaseRow) -> Self {
        let (state, class) = match r.state {
            ReleaseState::Queued if r.attempts > 0 => ("Waiting for the printer", "waiting"),
            ReleaseState::Queued => ("Queued", "waiting"),
            ReleaseState::Releasing => ("Sending to the printer", "active"),
            ReleaseState::Sent => ("Printing", "active"),
            ReleaseState::Printed => ("Printed", "done"),
            ReleaseState::Failed => ("Not printed", "failed"),
            ReleaseState::NeedsAttention => ("Needs attention", "failed"),
        };
        Self {
            job: r.job_name.clone(),
            printer: r.printer_name.clone(),
            state,
            class,
            reason: r.reason.clone(),
            at: when(r.created_at),
        }
    }
}

/// True while any release is still on its way (the page refreshes itself).
pub fn any_active(lines: &[ReleaseLine]) -> bool {
    lines
        .iter()
        .any(|l| matches!(l.class, "waiting" | "active"))
}

/// A page whose forms are bound to the pre-session cookie (stations and phones
/// before sign-in have no browser session). Returns the page and the cookie to set.
pub fn page_with_presession(
    req: &HttpRequest,
    state: &AppState,
    title: &str,
) -> (Page, Option<Cookie<'static>>) {
    let (pre, fresh) = presession(req);
    let mut page = Page::bare(title);
    page.csrf = state
        .services
        .identity
        .csrf_token(CsrfBinding::PreSession(&pre));
    let cookie = fresh.then(|| crate::web::auth::presession_cookie(&pre));
    (page, cookie)
}

/// A cookie for one printer's pages only (`/station/{guid}` or `/r/{guid}`).
/// `max_age` makes it outlive the browser (a phone's sign-in); `None` = until closed.
pub fn scoped_cookie(
    name: &'static str,
    value: &str,
    path: String,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value.to_owned())
        .path(path)
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    if let Some(secs) = max_age {
        cookie.set_max_age(CookieAge::seconds(secs));
    }
    cookie
}

/// The same cookie, expired.
pub fn cleared_cookie(name: &'static str, path: String) -> Cookie<'static> {
    let mut cookie = scoped_cookie(name, "", path, None);
    cookie.make_removal();
    cookie
}

/// Form fields as ordered pairs: checkboxes repeat a name (`pick=3&pick=7`).
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
