//! The data every page shows: title, who is signed in, the form token, asset URLs,
//! the navigation with where the person is.
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
    /// Done, but not as hoped (issue 20: "Printer added" for a printer that did not
    /// answer is not a green notice).
    pub warning: Option<String>,
    pub error: Option<String>,
    /// The path shown, for the navigation's "you are here" (empty: none marked).
    pub path: String,
}

/// One entry of the navigation bar.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    /// This page, or a page under it (`aria-current="page"`).
    pub current: bool,
}

/// Everyone's pages, then the admin's, in the order the bar shows them.
const PORTAL_NAV: [(&str, &str); 2] = [("/portal", "My jobs"), ("/portal/account", "Account")];
const ADMIN_NAV: [(&str, &str); 11] = [
    ("/admin", "Dashboard"),
    ("/admin/users", "Users"),
    ("/admin/directory", "Directory"),
    ("/admin/printers", "Printers"),
    ("/admin/devices", "Devices"),
    ("/admin/releases", "Releases"),
    ("/admin/agents", "Agents"),
    ("/admin/audit", "Audit"),
    ("/admin/sso", "Single sign-on"),
    ("/admin/settings", "Settings"),
    ("/admin/mail", "E-mail"),
];

/// Whether `href` is `path` or a folder above it (`/admin/users` for
/// `/admin/users/7`), never a mere prefix of a word (`/admin` of `/administer`).
fn under(path: &str, href: &str) -> bool {
    path == href
        || path
            .strip_prefix(href)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// How many characters of a long name a table shows before "…".
const SHORT_NAME_CHARS: usize = 60;

/// A document's (or any) name as a table shows it (issue 20: a 250-character name
/// pushed copies, pages and colour off screen): whole when short, else its start
/// with "…" and the whole name one tap away (`templates/long_name_macro.html`).
pub struct LongName {
    pub full: String,
    /// Set when the name is longer than a table cell should be.
    pub short: Option<String>,
}

impl LongName {
    pub fn new(full: &str) -> Self {
        let short = (full.chars().count() > SHORT_NAME_CHARS).then(|| {
            let start: String = full.chars().take(SHORT_NAME_CHARS - 1).collect();
            format!("{}…", start.trim_end())
        });
        Self {
            full: full.to_owned(),
            short,
        }
    }
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
            warning: None,
            error: None,
            path: String::new(),
        }
    }

    /// The messages a form left for this page (post/redirect/get, `web/flash.rs`).
    pub fn with_flash(mut self, flash: Option<&super::flash::Flash>) -> Self {
        if let Some(flash) = flash {
            self.notice = flash.notice.clone().or(self.notice);
            self.warning = flash.warning.clone().or(self.warning);
            self.error = flash.error.clone().or(self.error);
        }
        self
    }

    /// The navigation bar for who is signed in; the entry of the deepest page that
    /// holds this one is marked current (`/admin/users/7` marks Users, not Dashboard).
    pub fn nav(&self) -> Vec<NavLink> {
        let mut links: Vec<(&'static str, &'static str)> = PORTAL_NAV.to_vec();
        if self.is_admin() {
            links.extend(ADMIN_NAV);
        }
        let current = links
            .iter()
            .filter(|(href, _)| under(&self.path, href))
            .map(|(href, _)| *href)
            .max_by_key(|href| href.len());
        links
            .into_iter()
            .map(|(href, label)| NavLink {
                href,
                label,
                current: Some(href) == current,
            })
            .collect()
    }

    /// The label of the current page's entry, for the phone's menu button.
    pub fn nav_current(&self) -> String {
        self.nav()
            .into_iter()
            .find(|l| l.current)
            .map(|l| l.label.to_owned())
            .unwrap_or_else(|| "Menu".into())
    }

    pub fn with_notice(mut self, notice: impl Into<String>) -> Self {
        self.notice = Some(notice.into());
        self
    }

    pub fn with_warning(mut self, warning: impl Into<String>) -> Self {
        self.warning = Some(warning.into());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deepest_entry_holding_the_path_is_current() {
        assert!(under("/admin/users/7", "/admin/users"));
        assert!(under("/admin", "/admin"));
        assert!(!under("/administer", "/admin"));
        assert!(!under("/portal", "/portal/account"));
    }

    #[test]
    fn long_names_are_cut_on_a_character_not_a_byte() {
        assert!(LongName::new("report.pdf").short.is_none());
        let name = "é".repeat(250);
        let short = LongName::new(&name).short.unwrap();
        assert_eq!(short.chars().count(), SHORT_NAME_CHARS);
        assert!(short.ends_with('…'));
    }
}
