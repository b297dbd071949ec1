//! The "Sign in with …" buttons, one per single sign-on provider, shown by the
//! sign-in page and the phone page. Apart from `sso.rs` (the sign-in routes), which
//! itself uses the phone page's cookie: a file of its own keeps the two from importing
//! each other.

use crate::web::AppState;

/// A "Sign in with …" button.
pub struct SsoButton {
    pub href: String,
    pub label: String,
}

/// The buttons for every provider; for a phone page, its printer's `guid`. Empty when
/// the providers cannot be read (the password form still works).
pub async fn sso_buttons(state: &AppState, phone: Option<&str>) -> Vec<SsoButton> {
    let providers = match state.services.sso.providers().await {
        Ok(providers) => providers,
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on providers cannot be listed");
            return Vec::new();
        }
    };
    providers
        .iter()
        .map(|p| SsoButton {
            href: match phone {
                Some(guid) => format!("/sso/{}/start?phone={guid}", p.name),
                None => format!("/sso/{}/start", p.name),
            },
            label: p.shown_label().to_owned(),
        })
        .collect()
}
