//! One-time messages across a post/redirect/get: a form's handler does its work,
//! leaves what the next page must say here (a notice, a warning, an error, a secret
//! shown once such as a new PIN) and answers 303; the GET that follows takes it out.
//! A refresh of that page then shows nothing new and makes nothing again.
//!
//! Kept in memory, never in a cookie or the URL: a secret must not travel back in a
//! request or land in a log or the browser's history. Each message is keyed by the
//! session it belongs to and the page it is for, read once, and forgotten after
//! `LIFETIME_SECS` if nobody came for it.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::HttpResponse;

use super::error::{PageError, Problem};
use crate::identity::SessionToken;

/// How long a message waits for its page (a redirect is followed at once).
const LIFETIME_SECS: i64 = 300;
/// At most this many messages wait at once (older ones go first past it).
const MAX_WAITING: usize = 10_000;

/// What the next page says once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flash {
    pub notice: Option<String>,
    /// Done, but not as hoped (a printer added that did not answer).
    pub warning: Option<String>,
    pub error: Option<String>,
    /// A secret made by the form (a new PIN, a temporary password), shown this once:
    /// (whose or what it is, the secret).
    pub secret: Option<(String, String)>,
}

impl Flash {
    pub fn notice(text: impl Into<String>) -> Self {
        Self {
            notice: Some(text.into()),
            ..Self::default()
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self {
            error: Some(text.into()),
            ..Self::default()
        }
    }

    /// A change's outcome: a notice, or the problem's message. A server failure is
    /// not the person's to read: it becomes the error page at once.
    pub fn outcome<T: Into<String>>(result: Result<T, Problem>) -> Result<Self, PageError> {
        match result {
            Ok(notice) => Ok(Self::notice(notice)),
            Err(problem) if problem.status.is_server_error() => Err(PageError(problem)),
            Err(problem) => Ok(Self::error(problem.message)),
        }
    }
}

/// The messages waiting for their page, by session and path.
#[derive(Default)]
pub struct Flashes {
    waiting: Mutex<HashMap<(String, String), (i64, Flash)>>,
}

impl Flashes {
    /// Leaves `flash` for the session's next GET of `path`, replacing one waiting.
    pub fn put(&self, session: &SessionToken, path: &str, flash: Flash) {
        let now = crate::clock::now();
        let Ok(mut waiting) = self.waiting.lock() else {
            return;
        };
        waiting.retain(|_, (at, _)| now - *at < LIFETIME_SECS);
        if waiting.len() >= MAX_WAITING
            && let Some(oldest) = waiting
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            waiting.remove(&oldest);
        }
        waiting.insert((session.0.clone(), path.to_owned()), (now, flash));
    }

    /// The message left for this session's `path`, once.
    pub fn take(&self, session: &SessionToken, path: &str) -> Option<Flash> {
        let mut waiting = self.waiting.lock().ok()?;
        let (at, flash) = waiting.remove(&(session.0.clone(), path.to_owned()))?;
        (crate::clock::now() - at < LIFETIME_SECS).then_some(flash)
    }

    /// The 303 to `to` (a path, with no query), leaving `flash` for it.
    pub fn redirect(&self, session: &SessionToken, to: &str, flash: Flash) -> HttpResponse {
        self.put(session, to, flash);
        super::views::redirect(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_read_once_by_its_own_session_and_page() {
        let flashes = Flashes::default();
        let (mine, theirs) = (SessionToken("mine".into()), SessionToken("theirs".into()));
        flashes.put(&mine, "/admin/users", Flash::notice("Saved."));
        assert_eq!(flashes.take(&theirs, "/admin/users"), None);
        assert_eq!(flashes.take(&mine, "/portal"), None);
        assert_eq!(
            flashes.take(&mine, "/admin/users"),
            Some(Flash::notice("Saved."))
        );
        assert_eq!(flashes.take(&mine, "/admin/users"), None, "read once");
    }

    #[test]
    fn server_failures_are_not_flashed() {
        let refused = Problem::bad_request("No.");
        assert_eq!(
            Flash::outcome::<String>(Err(refused)).unwrap(),
            Flash::error("No.")
        );
        let broken = Problem::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "x",
        );
        assert!(Flash::outcome::<String>(Err(broken)).is_err());
    }
}
