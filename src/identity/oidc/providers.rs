//! The effective providers: those of `[oidc]` in the settings (read-only on the page)
//! and those an admin added on the page (client secret sealed by the vault), a file
//! provider winning over a page one of the same name. Each provider's discovery
//! document and key set are fetched once and cached for an hour, and fetched again
//! early when an ID token names a key the cached set lacks (key rotation).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openidconnect::IssuerUrl;
use openidconnect::ProviderMetadataWithLogout;

use super::http::ProviderHttp;
use super::{OidcError, SingleSignOn};
use crate::config::{OidcMatchClaim, OidcProviderSettings, Secret};
use crate::db::OidcProviderRow;

/// The vault purpose a page provider's client secret is sealed under.
pub(super) const CLIENT_SECRET_PURPOSE: &str = "oidc-client-secret";
/// A cached discovery document is used this long.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// An unknown key id fetches the key set again, but not more often than this.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(30);

/// Where a provider's settings live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderOrigin {
    /// `[[oidc.providers]]` in the settings file or env: read-only on the page.
    Settings,
    /// Added on the admin page (its row id).
    Page(i64),
}

/// One provider as the sign-in uses it.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub ca_file: Option<PathBuf>,
    pub match_claim: OidcMatchClaim,
    pub create_users: bool,
    pub groups_claim: String,
    pub admin_groups: Vec<String>,
    pub scopes: Vec<String>,
    /// Match or create people by an e-mail the provider has not verified.
    pub trust_unverified_email: bool,
    /// Only these e-mail domains may sign in (empty = any); see the setting.
    pub allowed_domains: Vec<String>,
    pub origin: ProviderOrigin,
}

impl Provider {
    pub(super) fn from_settings(s: &OidcProviderSettings) -> Self {
        Self {
            name: s.name.clone(),
            label: s.label.clone(),
            issuer: s.issuer.clone(),
            client_id: s.client_id.clone(),
            client_secret: s.client_secret.clone(),
            ca_file: s.ca_file.clone(),
            match_claim: s.match_claim,
            create_users: s.create_users,
            groups_claim: s.groups_claim.clone(),
            admin_groups: s.admin_groups.clone(),
            scopes: s.scopes.clone(),
            trust_unverified_email: s.trust_unverified_email,
            allowed_domains: s.allowed_domains.clone(),
            origin: ProviderOrigin::Settings,
        }
    }

    /// The button's words: the label, else the name.
    pub fn shown_label(&self) -> &str {
        if self.label.trim().is_empty() {
            &self.name
        } else {
            &self.label
        }
    }
}

/// A stored match-claim value.
pub(super) fn match_claim_str(claim: OidcMatchClaim) -> &'static str {
    match claim {
        OidcMatchClaim::Email => "email",
        OidcMatchClaim::PreferredUsername => "preferred_username",
    }
}

fn parse_match_claim(text: &str) -> OidcMatchClaim {
    match text {
        "preferred_username" => OidcMatchClaim::PreferredUsername,
        _ => OidcMatchClaim::Email,
    }
}

/// A provider's discovery document with its key set, and the client that fetched it.
#[derive(Debug)]
pub(super) struct Discovered {
    pub metadata: ProviderMetadataWithLogout,
    pub http: ProviderHttp,
    fetched: Instant,
    issuer: String,
    ca_file: Option<PathBuf>,
}

/// The discovery cache, shared by every clone of the service.
#[derive(Debug, Clone, Default)]
pub(super) struct DiscoveryCache(Arc<Mutex<HashMap<String, Arc<Discovered>>>>);

impl DiscoveryCache {
    fn get(&self, name: &str) -> Option<Arc<Discovered>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    fn put(&self, name: &str, discovered: Arc<Discovered>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), discovered);
    }

    pub(super) fn forget(&self, name: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }
}

impl SingleSignOn {
    /// Every provider people can sign in with: the settings' first, then the page's.
    pub async fn providers(&self) -> Result<Vec<Provider>, OidcError> {
        let mut all: Vec<Provider> = self
            .settings
            .providers
            .iter()
            .map(Provider::from_settings)
            .collect();
        for row in self.identity.db.oidc_providers().await? {
            if all.iter().any(|p| p.name == row.name) {
                continue;
            }
            all.push(self.page_provider_of(row)?);
        }
        Ok(all)
    }

    /// The provider named `name`.
    pub async fn provider(&self, name: &str) -> Result<Provider, OidcError> {
        self.providers()
            .await?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| OidcError::UnknownProvider(name.chars().take(64).collect()))
    }

    fn page_provider_of(&self, row: OidcProviderRow) -> Result<Provider, OidcError> {
        let client_secret = match &row.client_secret_sealed {
            Some(sealed) => {
                let opened = self
                    .identity
                    .vault
                    .open_secret(CLIENT_SECRET_PURPOSE, sealed)?;
                Some(Secret::new(String::from_utf8_lossy(&opened).into_owned()))
            }
            None => None,
        };
        Ok(Provider {
            name: row.name,
            label: row.label,
            issuer: row.issuer,
            client_id: row.client_id,
            client_secret,
            ca_file: row.ca_file.filter(|f| !f.is_empty()).map(PathBuf::from),
            match_claim: parse_match_claim(&row.match_claim),
            create_users: row.create_users,
            groups_claim: row.groups_claim,
            admin_groups: row
                .admin_groups
                .lines()
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect(),
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
            trust_unverified_email: row.trust_unverified_email,
            allowed_domains: row
                .allowed_domains
                .split_whitespace()
                .map(str::to_lowercase)
                .collect(),
            origin: ProviderOrigin::Page(row.id),
        })
    }

    /// The provider's discovery document and keys: cached, or fetched when missing,
    /// older than an hour, made for other settings, or `refresh` asks (an unknown key
    /// id; at most every 30 s).
    pub(super) async fn discovered(
        &self,
        provider: &Provider,
        refresh: bool,
    ) -> Result<Arc<Discovered>, OidcError> {
        if let Some(cached) = self.cache.get(&provider.name) {
            let same = cached.issuer == provider.issuer && cached.ca_file == provider.ca_file;
            let age = cached.fetched.elapsed();
            let wanted_fresh = refresh && age >= REFRESH_AT_MOST_EVERY;
            if same && age < DISCOVERY_TTL && !wanted_fresh {
                return Ok(cached);
            }
        }
        let discovered = Arc::new(fetch(provider).await?);
        self.cache.put(&provider.name, discovered.clone());
        Ok(discovered)
    }
}

/// Fetches the discovery document (whose `issuer` must be the configured one) and the
/// key set it names.
async fn fetch(provider: &Provider) -> Result<Discovered, OidcError> {
    let http = ProviderHttp::new(provider.ca_file.as_deref()).map_err(OidcError::Provider)?;
    let issuer = IssuerUrl::new(provider.issuer.clone()).map_err(|e| OidcError::Invalid {
        field: "issuer",
        reason: e.to_string(),
    })?;
    let metadata = ProviderMetadataWithLogout::discover_async(issuer, &http)
        .await
        .map_err(|e| {
            OidcError::Provider(format!("discovery of {}: {}", provider.issuer, chain(&e)))
        })?;
    Ok(Discovered {
        metadata,
        http,
        fetched: Instant::now(),
        issuer: provider.issuer.clone(),
        ca_file: provider.ca_file.clone(),
    })
}

/// An error with its causes, on one line.
pub(super) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
