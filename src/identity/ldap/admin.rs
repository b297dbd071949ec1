//! The admin page's settings: checked, the bind password sealed by the vault (an
//! empty field keeps the sealed one; it is never shown again), saved and audited.
//! Refused while `[ldap]` is set in the settings file, which wins.

use std::time::Duration;

use zeroize::Zeroizing;

use super::settings::{self, BIND_PASSWORD_PURPOSE, DirectorySettings};
use super::{Directory, LdapError};
use crate::db::LdapSettingsRow;
use crate::identity::people::require_admin;
use crate::identity::{AuditAction, AuditOutcome, ClientInfo, User};

/// What the admin typed. `bind_password` empty = keep the stored one.
#[derive(Default, Clone)]
pub struct SettingsForm {
    pub url: String,
    pub security: String,
    pub ca_pem: String,
    pub pinned_sha256: String,
    pub bind_dn: String,
    pub bind_password: Zeroizing<String>,
    pub base_dn: String,
    pub user_filter: String,
    pub preset: String,
    pub attr_username: String,
    pub attr_email: String,
    pub attr_name: String,
    pub attr_department: String,
    pub attr_card: String,
    pub attr_unique_id: String,
    pub user_groups: String,
    pub admin_groups: String,
    pub sync_interval_minutes: String,
    pub timeout_secs: String,
}

impl std::fmt::Debug for SettingsForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsForm")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SettingsForm {
    /// The stored row as the form shows it (never the password).
    pub fn of(row: &LdapSettingsRow) -> Self {
        Self {
            url: row.url.clone(),
            security: row.security.clone(),
            ca_pem: row.ca_pem.clone(),
            pinned_sha256: row.pinned_sha256.clone(),
            bind_dn: row.bind_dn.clone(),
            bind_password: Zeroizing::default(),
            base_dn: row.base_dn.clone(),
            user_filter: row.user_filter.clone(),
            preset: row.preset.clone(),
            attr_username: row.attr_username.clone(),
            attr_email: row.attr_email.clone(),
            attr_name: row.attr_name.clone(),
            attr_department: row.attr_department.clone(),
            attr_card: row.attr_card.clone(),
            attr_unique_id: row.attr_unique_id.clone(),
            user_groups: row.user_groups.clone(),
            admin_groups: row.admin_groups.clone(),
            sync_interval_minutes: row.sync_interval_minutes.to_string(),
            timeout_secs: row.timeout_secs.to_string(),
        }
    }
}

fn number(text: &str, what: &str) -> Result<i64, LdapError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| LdapError::Invalid(format!("the {what} must be a whole number")))
}

impl Directory {
    /// What the page shows: the stored row (the file's settings are shown from
    /// [`Directory::settings`] instead).
    pub async fn page_settings(&self) -> Result<LdapSettingsRow, LdapError> {
        Ok(self
            .db()
            .ldap_settings()
            .await?
            .unwrap_or_else(|| LdapSettingsRow {
                security: "start_tls".into(),
                preset: "active_directory".into(),
                sync_interval_minutes: 60,
                timeout_secs: 5,
                ..LdapSettingsRow::default()
            }))
    }

    /// Checks and saves the page's settings; audited without any secret.
    pub async fn save_settings(
        &self,
        actor: &User,
        form: &SettingsForm,
        client: &ClientInfo,
    ) -> Result<(), LdapError> {
        require_admin(actor)?;
        if self.set_in_file() {
            return Err(LdapError::Invalid(
                "the directory is set in the settings file ([ldap]); change it there".into(),
            ));
        }
        let stored = self.db().ldap_settings().await?;
        let sealed = if form.bind_password.is_empty() {
            None
        } else {
            Some(
                self.vault()
                    .seal_secret(BIND_PASSWORD_PURPOSE, form.bind_password.as_bytes())?,
            )
        };
        let row = LdapSettingsRow {
            url: form.url.trim().to_owned(),
            security: settings::security_name(settings::parse_security(form.security.trim())?)
                .into(),
            ca_pem: form.ca_pem.trim().to_owned(),
            pinned_sha256: form.pinned_sha256.trim().to_owned(),
            bind_dn: form.bind_dn.trim().to_owned(),
            bind_password_sealed: sealed.clone(),
            base_dn: form.base_dn.trim().to_owned(),
            user_filter: form.user_filter.trim().to_owned(),
            preset: settings::preset_name(settings::parse_preset(form.preset.trim())?).into(),
            attr_username: form.attr_username.trim().to_owned(),
            attr_email: form.attr_email.trim().to_owned(),
            attr_name: form.attr_name.trim().to_owned(),
            attr_department: form.attr_department.trim().to_owned(),
            attr_card: form.attr_card.trim().to_owned(),
            attr_unique_id: form.attr_unique_id.trim().to_owned(),
            user_groups: settings::lines(&form.user_groups).join("\n"),
            admin_groups: settings::lines(&form.admin_groups).join("\n"),
            sync_interval_minutes: number(&form.sync_interval_minutes, "sync interval")?,
            timeout_secs: number(&form.timeout_secs, "time-out")?,
            updated_at: 0,
        };
        if !row.url.is_empty() {
            // Check with the password that will be in force (the new or the kept one).
            let mut check_row = row.clone();
            if check_row.bind_password_sealed.is_none() {
                check_row.bind_password_sealed =
                    stored.as_ref().and_then(|s| s.bind_password_sealed.clone());
            }
            if let Some(s) = settings::from_row(&check_row, self.vault())? {
                settings::check(&s)?;
                if let settings::Trust::CaPem(pem) = &s.trust {
                    check_pem(pem)?;
                }
            }
        }
        self.db().save_ldap_settings(&row).await?;
        self.identity.ldap.forget();
        let detail = format!(
            "{} {} base {}{}",
            row.url,
            row.security,
            row.base_dn,
            if sealed.is_some() {
                "; bind password changed"
            } else {
                ""
            }
        );
        self.audit(
            Some(actor),
            AuditAction::DirectorySettings,
            AuditOutcome::Success,
            client,
            &detail,
        )
        .await
    }
}

fn check_pem(pem: &str) -> Result<(), LdapError> {
    let found = rustls_pemfile::certs(&mut std::io::BufReader::new(pem.as_bytes()))
        .filter(Result::is_ok)
        .count();
    if found == 0 {
        return Err(LdapError::Invalid(
            "the CA must be a PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(())
}

/// The settings as the page shows them when they come from the file (no password).
pub fn describe(s: &DirectorySettings) -> Vec<(&'static str, String)> {
    vec![
        ("URL", s.url.clone()),
        ("Security", settings::security_name(s.security).into()),
        (
            "Trust",
            match &s.trust {
                settings::Trust::System => "the system's CAs".into(),
                settings::Trust::CaFile(p) => format!("CA file {}", p.display()),
                settings::Trust::CaPem(_) => "the CA pasted here".into(),
                settings::Trust::Pinned(pin) => format!("pinned SHA-256 {pin}"),
            },
        ),
        ("Bind DN", s.bind_dn.clone()),
        (
            "Bind password",
            if s.bind_password.is_some() {
                "set (not shown)".into()
            } else {
                "not set".into()
            },
        ),
        ("Base DN", s.base_dn.clone()),
        ("User filter", s.user_filter.clone()),
        ("Preset", settings::preset_name(s.preset).into()),
        (
            "Attributes",
            format!(
                "username {}, e-mail {}, name {}, department {}, card {}, unique id {}",
                s.attributes.username,
                s.attributes.email,
                s.attributes.name,
                s.attributes.department,
                s.attributes.card,
                s.attributes.unique_id
            ),
        ),
        (
            "User groups",
            if s.user_groups.is_empty() {
                "everyone the filter finds".into()
            } else {
                s.user_groups.join("; ")
            },
        ),
        (
            "Admin groups",
            if s.admin_groups.is_empty() {
                "none".into()
            } else {
                s.admin_groups.join("; ")
            },
        ),
        (
            "Sync every",
            format!("{} minutes (0 = only Sync now)", s.sync_interval_minutes),
        ),
        ("Time-out", format!("{} s", Duration::as_secs(&s.timeout))),
    ]
}
