//! The admin page's changes: providers added, edited and deleted (the client secret
//! sealed by the vault and never shown again; providers from the settings file are
//! read-only), and "check", which fetches the discovery document and says what it
//! found. Every change is audited.

use std::path::PathBuf;

use super::providers::{CLIENT_SECRET_PURPOSE, Provider, ProviderOrigin, match_claim_str};
use super::{OidcError, SingleSignOn};
use crate::config::{OidcMatchClaim, OidcProviderSettings, Secret};
use crate::db::{DbError, OidcProviderFields};
use crate::identity::people::require_admin;
use crate::identity::{AuditAction, AuditEvent, AuditOutcome, ClientInfo, User};

/// What the admin page submits for a provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderForm {
    pub name: String,
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    /// Empty on an edit keeps the stored secret.
    pub client_secret: Secret,
    pub ca_file: String,
    pub match_claim: OidcMatchClaim,
    pub create_users: bool,
    pub groups_claim: String,
    pub admin_groups: Vec<String>,
    pub scopes: Vec<String>,
    pub trust_unverified_email: bool,
    pub allowed_domains: Vec<String>,
}

/// What "check" found at the provider, as (what, value) lines.
#[derive(Debug, Clone, Default)]
pub struct ProviderCheck {
    pub lines: Vec<(String, String)>,
}

impl ProviderForm {
    fn as_settings(&self) -> OidcProviderSettings {
        OidcProviderSettings {
            name: self.name.trim().to_owned(),
            label: self.label.trim().to_owned(),
            issuer: self.issuer.trim().to_owned(),
            client_id: self.client_id.trim().to_owned(),
            client_secret: None,
            ca_file: None,
            match_claim: self.match_claim,
            create_users: self.create_users,
            groups_claim: self.groups_claim.trim().to_owned(),
            admin_groups: self.admin_groups.clone(),
            scopes: self.scopes.clone(),
            trust_unverified_email: self.trust_unverified_email,
            allowed_domains: self.allowed_domains.clone(),
        }
    }
}

impl SingleSignOn {
    /// Names of the providers set in the settings file (read-only here).
    fn in_settings(&self, name: &str) -> bool {
        self.settings.providers.iter().any(|p| p.name == name)
    }

    /// A page provider, for its edit form.
    pub async fn page_provider(&self, admin: &User, id: i64) -> Result<Provider, OidcError> {
        require_admin(admin)?;
        self.providers()
            .await?
            .into_iter()
            .find(|p| p.origin == ProviderOrigin::Page(id))
            .ok_or(OidcError::Identity(
                crate::identity::IdentityError::NotFound,
            ))
    }

    fn checked(&self, form: &ProviderForm, id: Option<i64>) -> Result<(), OidcError> {
        form.as_settings()
            .check()
            .map_err(|(field, reason)| OidcError::Invalid { field, reason })?;
        if self.in_settings(form.name.trim()) {
            return Err(OidcError::Invalid {
                field: "name",
                reason: "a provider of the settings file has this name".into(),
            });
        }
        if !form.ca_file.trim().is_empty() && !PathBuf::from(form.ca_file.trim()).is_file() {
            return Err(OidcError::Invalid {
                field: "ca_file",
                reason: "no such file on the server".into(),
            });
        }
        if id.is_none() && form.client_secret.expose().len() > 1024 {
            return Err(OidcError::Invalid {
                field: "client_secret",
                reason: "at most 1024 characters".into(),
            });
        }
        Ok(())
    }

    /// Adds a page provider; its id.
    pub async fn add_provider(
        &self,
        admin: &User,
        form: &ProviderForm,
        client: &ClientInfo,
    ) -> Result<i64, OidcError> {
        require_admin(admin)?;
        self.checked(form, None)?;
        let id = self.save(form, None).await?;
        self.audit_change(admin, AuditAction::SsoProviderAdd, form, client)
            .await?;
        Ok(id)
    }

    pub async fn update_provider(
        &self,
        admin: &User,
        id: i64,
        form: &ProviderForm,
        client: &ClientInfo,
    ) -> Result<(), OidcError> {
        require_admin(admin)?;
        let before = self.page_provider(admin, id).await?;
        self.checked(form, Some(id))?;
        self.save(form, Some(id)).await?;
        self.cache.forget(&before.name);
        self.audit_change(admin, AuditAction::SsoProviderUpdate, form, client)
            .await
    }

    pub async fn delete_provider(
        &self,
        admin: &User,
        id: i64,
        client: &ClientInfo,
    ) -> Result<(), OidcError> {
        require_admin(admin)?;
        let provider = self.page_provider(admin, id).await?;
        self.identity.db.delete_oidc_provider(id).await?;
        self.cache.forget(&provider.name);
        self.identity
            .audit(AuditEvent {
                actor: Some(admin),
                action: AuditAction::SsoProviderDelete,
                target: &provider.name,
                outcome: AuditOutcome::Success,
                client,
                detail: &provider.issuer,
            })
            .await?;
        Ok(())
    }

    async fn save(&self, form: &ProviderForm, id: Option<i64>) -> Result<i64, OidcError> {
        let secret = form.client_secret.expose().trim();
        let sealed = if secret.is_empty() {
            None
        } else {
            Some(
                self.identity
                    .vault
                    .seal_secret(CLIENT_SECRET_PURPOSE, secret.as_bytes())?,
            )
        };
        let s = form.as_settings();
        let admin_groups = s.admin_groups.join("\n");
        let scopes = s.scopes.join(" ");
        let allowed_domains = s.allowed_domains.join(" ");
        let ca_file = form.ca_file.trim();
        let fields = OidcProviderFields {
            name: &s.name,
            label: &s.label,
            issuer: &s.issuer,
            client_id: &s.client_id,
            client_secret_sealed: sealed.as_deref(),
            ca_file: (!ca_file.is_empty()).then_some(ca_file),
            match_claim: match_claim_str(s.match_claim),
            create_users: s.create_users,
            groups_claim: &s.groups_claim,
            admin_groups: &admin_groups,
            scopes: &scopes,
            trust_unverified_email: s.trust_unverified_email,
            allowed_domains: &allowed_domains,
        };
        let saved = match id {
            Some(id) => self
                .identity
                .db
                .update_oidc_provider(id, &fields)
                .await
                .map(|()| id),
            None => self.identity.db.insert_oidc_provider(&fields).await,
        };
        saved.map_err(|e| match e {
            DbError::Conflict(_) => OidcError::Invalid {
                field: "name",
                reason: "another provider has this name".into(),
            },
            other => other.into(),
        })
    }

    async fn audit_change(
        &self,
        admin: &User,
        action: AuditAction,
        form: &ProviderForm,
        client: &ClientInfo,
    ) -> Result<(), OidcError> {
        let secret = if form.client_secret.expose().trim().is_empty() {
            "secret unchanged"
        } else {
            "secret set"
        };
        self.identity
            .audit(AuditEvent {
                actor: Some(admin),
                action,
                target: form.name.trim(),
                outcome: AuditOutcome::Success,
                client,
                detail: &format!("{} ({secret})", form.issuer.trim()),
            })
            .await?;
        Ok(())
    }

    /// Fetches the provider's discovery document now and says what it found.
    pub async fn check_provider(
        &self,
        admin: &User,
        name: &str,
    ) -> Result<ProviderCheck, OidcError> {
        require_admin(admin)?;
        let provider = self.provider(name).await?;
        self.cache.forget(&provider.name);
        let found = self.discovered(&provider, true).await?;
        let m = &found.metadata;
        let list = |items: Vec<String>| {
            if items.is_empty() {
                "not said".to_owned()
            } else {
                items.join(", ")
            }
        };
        let mut lines = vec![
            ("Issuer".into(), m.issuer().as_str().to_owned()),
            (
                "Authorization endpoint".into(),
                m.authorization_endpoint().as_str().to_owned(),
            ),
            (
                "Token endpoint".into(),
                m.token_endpoint()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_else(|| "none (sign-in cannot work)".into()),
            ),
            (
                "Signing keys".into(),
                format!("{} in {}", m.jwks().keys().len(), m.jwks_uri().as_str()),
            ),
            (
                "Signing algorithms".into(),
                list(
                    m.id_token_signing_alg_values_supported()
                        .iter()
                        .map(json_name)
                        .collect(),
                ),
            ),
            (
                "Scopes".into(),
                list(
                    m.scopes_supported()
                        .map(|s| s.iter().map(|s| s.as_str().to_owned()).collect())
                        .unwrap_or_default(),
                ),
            ),
            (
                "Sign-out at the provider".into(),
                m.additional_metadata()
                    .end_session_endpoint
                    .as_ref()
                    .map(|e| e.as_str().to_owned())
                    .unwrap_or_else(|| {
                        "not offered: signing out ends only the PrintPark session".into()
                    }),
            ),
        ];
        lines.push((
            "Client secret".into(),
            match provider.client_secret {
                Some(_) => "set (sealed)".into(),
                None => "none (a public client with PKCE)".into(),
            },
        ));
        Ok(ProviderCheck { lines })
    }
}

/// A value's name as its JSON string form (`RS256`).
fn json_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
