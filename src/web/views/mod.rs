//! Page views: one struct per page deriving `askama::Template`, all extending
//! `templates/base.html`. Handlers prepare display strings; templates only lay out.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::auth::SignedIn;
use super::error::{PageError, Problem};
pub use super::page::Page;
use crate::identity::{CsrfBinding, Identity};

pub mod admin;
// issue 16, e-mail: "forgot password"
pub mod password_reset;
pub mod portal;
pub mod release_points;
pub mod releasing;
pub mod session;
pub mod setup;
// Single sign-on (issue 16, oidc).
pub mod sso;
pub mod sso_buttons;

/// The pages outside the three folders: first run, sign-in and sign-out.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(session::home))
        .route("/setup", web::get().to(setup::setup_page))
        .route("/setup", web::post().to(setup::setup_submit))
        .route("/login", web::get().to(session::login_form))
        .route("/login", web::post().to(session::login_submit))
        .route("/logout", web::post().to(session::logout))
        .configure(password_reset::routes);
    sso::routes(cfg); // single sign-on (issue 16, oidc)
}

// `Page` itself lives in `web/page.rs`, below `error` and `auth`; what needs a
// signed-in session or a `Problem` is added here, above both.
impl Page {
    pub fn for_user(title: &str, identity: &Identity, who: &SignedIn) -> Self {
        Self {
            csrf: identity.csrf_token(CsrfBinding::Session(&who.token.0)),
            user: Some(who.principal.user.clone()),
            path: who.path.clone(),
            ..Self::bare(title)
        }
    }

    /// Shows the outcome of a change on the page: a notice, or the problem's message.
    /// Server-side failures are not the user's to read: they become the error page.
    pub fn with_outcome<T: Into<String>>(
        self,
        result: Result<T, Problem>,
    ) -> Result<Self, PageError> {
        match result {
            Ok(notice) => Ok(self.with_notice(notice)),
            Err(problem) if problem.status.is_server_error() => Err(PageError(problem)),
            Err(problem) => Ok(self.with_error(problem.message)),
        }
    }
}

/// The pre-session cookie value of this browser, made if it has none yet.
pub fn presession(req: &HttpRequest) -> (String, bool) {
    match req.cookie(crate::web::auth::PRESESSION_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_owned(), false),
        _ => (crate::identity::secrets::new_token(), true),
    }
}

pub fn render(template: &impl Template) -> Result<HttpResponse, PageError> {
    let body = template.render().map_err(|e| {
        PageError(Problem::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "render",
            e.to_string(),
        ))
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to))
        .finish()
}

/// `2026-11-27 14:05 UTC` from Unix seconds.
pub fn when(ts: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `3 h 20 min` until `ts`, or `expired`.
pub fn time_left(ts: i64) -> String {
    let left = ts - crate::clock::now();
    if left <= 0 {
        return "expired".into();
    }
    let (h, m) = (left / 3600, (left % 3600) / 60);
    if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min")
    }
}

/// `1.4 MB` style sizes.
pub fn size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Where people reach this server: the public address (`server.public_url`, else the
/// one set on the first-run or settings page; see `site`), and only while none is set
/// the Host the browser used. The one source of every URL handed out: QR labels,
/// station and phone links, the agent command, single sign-on and reset links, the
/// set-up-printing page.
pub fn public_base(req: &actix_web::HttpRequest, state: &crate::web::AppState) -> String {
    match state.services.site.public_address() {
        Some(address) => address.as_str().to_string(),
        None => format!("https://{}", req.connection_info().host()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1_400_000), "1.4 MB");
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(time_left(0), "expired");
    }
}
