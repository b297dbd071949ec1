//! The release points (templates `station.html`, `phone.html`): the station page
//! bound to one printer and the phone page its QR label opens; their route table (one
//! route and one typed handler per step), and what the two share: cookies scoped to
//! one printer's pages and the form token of a page with no browser session.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::{HttpRequest, web};

use super::{Page, presession};
use crate::identity::CsrfBinding;
use crate::web::AppState;
use crate::web::extract::CsrfToken;

pub mod phone;
pub mod station;

/// Same URLs as before the steps had handlers of their own; a step that is not one
/// of these still gets its form checked, then "not found".
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/station/{guid}", web::get().to(station::home))
        .route(
            "/station/{guid}/badge",
            web::post().to(station::sign_in::badge),
        )
        .route(
            "/station/{guid}/badge-pin",
            web::post().to(station::sign_in::badge_pin),
        )
        .route(
            "/station/{guid}/link",
            web::post().to(station::sign_in::link),
        )
        .route("/station/{guid}/pin", web::post().to(station::sign_in::pin))
        // Issue 16: username + password (the directory's, or a local one).
        .route(
            "/station/{guid}/password",
            web::post().to(station::sign_in::password),
        )
        .route(
            "/station/{guid}/passcode",
            web::post().to(station::sign_in::passcode),
        )
        .route(
            "/station/{guid}/print-all",
            web::post().to(station::printing::print_all),
        )
        .route(
            "/station/{guid}/release",
            web::post().to(station::printing::release),
        )
        .route(
            "/station/{guid}/logout",
            web::post().to(station::sign_in::logout),
        )
        .route(
            "/station/{guid}/{step}",
            web::post().to(station::unknown_step),
        )
        .route("/r/{guid}", web::get().to(phone::home))
        .route("/r/{guid}/login", web::post().to(phone::login))
        .route("/r/{guid}/print-all", web::post().to(phone::print_all))
        .route("/r/{guid}/logout", web::post().to(phone::logout))
        .route("/r/{guid}/{step}", web::post().to(phone::unknown_step));
}

/// A form as ordered pairs, for the station's review form (its field names carry job
/// ids: `copies-7`, `mono-7`; checkboxes repeat a name: `pick=3&pick=7`) and for
/// steps that do not exist.
#[derive(serde::Deserialize)]
#[serde(transparent)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, as the old single handler read it.
    pub fn get(&self, name: &str) -> Option<&str> {
        field(&self.0, name)
    }
}

impl CsrfToken for Fields {
    fn csrf(&self) -> &str {
        self.get("csrf").unwrap_or("")
    }
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

/// What "Print all" will print, said before it is pressed (issue 20: a 99-copy job
/// hid in a list): documents, copies and pages in all, and each document printed
/// more than once by name.
pub struct HeldTotals {
    pub documents: usize,
    /// Sheets' worth: pages × copies of every document whose pages are known.
    pub pages: i64,
    /// Some document's pages are not known (the total is at least `pages`).
    pub pages_unknown: bool,
    pub copies: i64,
    /// Documents asked for more than once: (name, copies).
    pub repeated: Vec<(crate::web::page::LongName, i64)>,
}

impl HeldTotals {
    pub fn of(jobs: &[crate::jobs::HeldJob]) -> Self {
        Self {
            documents: jobs.len(),
            pages: jobs.iter().map(|j| j.pages.unwrap_or(0) * j.copies).sum(),
            pages_unknown: jobs.iter().any(|j| j.pages.is_none()),
            copies: jobs.iter().map(|j| j.copies).sum(),
            repeated: jobs
                .iter()
                .filter(|j| j.copies > 1)
                .map(|j| (crate::web::page::LongName::new(&j.name), j.copies))
                .collect(),
        }
    }

    /// "3 documents, 5 copies, 214 pages" (pages "at least" when some are unknown).
    pub fn summary(&self) -> String {
        let plural = |n: i64, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        format!(
            "{}, {}, {}{}",
            plural(self.documents as i64, "document", "documents"),
            plural(self.copies, "copy", "copies"),
            if self.pages_unknown { "at least " } else { "" },
            plural(self.pages, "page", "pages"),
        )
    }
}
