//! The data every page shows: title, who is signed in, the form token, asset URLs.
//! It sits below `error` (the error page is a page) and `auth`; the constructors that
//! need a session or a `Problem` live with the views in `views/mod.rs`.

use super::assets;
use crate::identity::User;

/// Where a person whose password an admin reset must go first (the signed-in check in
/// `auth.rs` sends them; `error.rs` redirects there). Here, below both.
pub const CHANGE_PASSWORD_PATH: &str = "/portal/account/password";

/// What every page needs: title, who is signed in, the form token, asset URLs.
pub struct Page {
    pub title: String,
    pub user: Option<User>,
    pub csrf: String,
    pub css: String,
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl Page {
    /// A page with no user and no forms (errors).
    pub fn bare(title: &str) -> Self {
        Self {
            title: title.into(),
            user: None,
            csrf: String::new(),
            css: assets::url("app.css"),
            notice: None,
            error: None,
        }
    }

    pub fn with_notice(mut self, notice: impl Into<String>) -> Self {
        self.notice = Some(notice.into());
        self
    }

    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// The copy-button script every page loads (`<button data-copy="#id" hidden>`).
    pub fn copy_js(&self) -> String {
        assets::url("copy.js")
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(User::is_admin)
    }
}
