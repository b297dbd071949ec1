//! The public address on the admin side (issue 20): the warning the labels, agents and
//! dashboard pages show while it is unset or a loopback name, and the form on
//! Admin → Settings that changes it (post/redirect/get).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::config::PublicAddress;
use crate::identity::ClientInfo;
use crate::site::{AddressSource, SiteError};
use crate::web::AppState;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, SignedForm, csrf_field};
use crate::web::views::redirect;

/// Why links handed out now would fail on other machines, or `None` when the public
/// address is set and reachable from elsewhere.
pub fn address_warning(state: &AppState) -> Option<String> {
    match state.services.site.public_address() {
        None => Some(
            "The public address is not set: links, QR codes and commands would carry the address your browser used, which phones and other computers may not reach."
                .into(),
        ),
        Some(a) if a.is_loopback() => Some(format!(
            "The public address is {a}, a name only this machine can reach: phones and other computers cannot open links that carry it."
        )),
        Some(_) => None,
    }
}

/// What the settings page shows about the address.
pub struct AddressView {
    pub current: Option<PublicAddress>,
    /// True when `server.public_url` sets it (the form is then read-only).
    pub configured: bool,
    pub proposals: Vec<String>,
    pub warning: Option<String>,
    /// True when PrintPark made the certificate (it follows the address).
    pub self_made_certificate: bool,
}

impl AddressView {
    pub fn of(state: &AppState) -> Self {
        let site = &state.services.site;
        Self {
            current: site.public_address(),
            configured: site.source() == AddressSource::Settings,
            proposals: site.proposals(),
            warning: address_warning(state),
            self_made_certificate: state.services.settings.server.tls_cert.is_none(),
        }
    }

    /// The value the form starts with: the current address, else the first proposal.
    pub fn value(&self) -> String {
        match &self.current {
            Some(a) => a.to_string(),
            None => self.proposals.first().cloned().unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
pub struct AddressForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    public_address: String,
}

csrf_field!(AddressForm);

/// Saves the address typed on Admin → Settings, then back to the page with what
/// happened (the certificate made again, or why not).
pub async fn save(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<AddressForm>,
) -> Result<HttpResponse, PageError> {
    match state
        .services
        .site
        .set(&form.public_address, &who.0.principal.user, &client)
        .await
    {
        Ok((_, true)) => Ok(redirect("/admin/settings?done=address_certificate")),
        Ok((_, false)) => Ok(redirect("/admin/settings?done=address")),
        Err(e @ (SiteError::Invalid(_) | SiteError::Configured)) => Err(PageError(Problem::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            e.to_string(),
        ))),
        Err(SiteError::Forbidden) => Err(PageError(Problem::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "forbidden",
            "Only an administrator can change the public address.",
        ))),
        Err(e) => Err(PageError(Problem::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            e.to_string(),
        ))),
    }
}
