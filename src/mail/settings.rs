//! Which relay is in force: `[smtp]` of the settings file wins; else the admin page's
//! values from the database, the password opened from its vault seal only to sign in
//! at the relay. Saving the page's values validates them first.

use std::time::Duration;

use crate::clock::now;
use crate::config::{Secret, SmtpSecurity};
use crate::db::SmtpSettingsRow;

use super::{MailError, Mailer, Relay};

/// The vault purpose the page's SMTP password is sealed under.
const PASSWORD_PURPOSE: &str = "smtp-password";

/// Longest time-out the page accepts, in seconds.
const MAX_TIMEOUT_SECS: i64 = 120;

/// The stored name of a security mode.
pub fn security_str(security: SmtpSecurity) -> &'static str {
    match security {
        SmtpSecurity::StartTls => "start_tls",
        SmtpSecurity::Tls => "tls",
        SmtpSecurity::InsecurePlain => "insecure_plain",
    }
}

/// The security mode of a stored or submitted name.
pub fn parse_security(text: &str) -> Option<SmtpSecurity> {
    match text {
        "start_tls" => Some(SmtpSecurity::StartTls),
        "tls" => Some(SmtpSecurity::Tls),
        "insecure_plain" => Some(SmtpSecurity::InsecurePlain),
        _ => None,
    }
}

/// What the admin page shows: never the password, only whether one is stored.
#[derive(Debug, Clone)]
pub struct SettingsView {
    /// True: from the settings file (read-only on the page).
    pub from_file: bool,
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: String,
    pub has_password: bool,
    pub from: String,
    /// The CA to trust: a file's path, "pasted CA", or empty for the system's.
    pub ca: String,
    /// The pasted CA (page settings only), to edit.
    pub ca_pem: String,
    pub timeout_secs: u64,
}

/// What an admin submits on the page.
#[derive(Debug, Clone, Default)]
pub struct PageSettings {
    pub host: String,
    pub port: String,
    pub security: String,
    pub username: String,
    /// Empty: keep the stored password.
    pub password: String,
    /// Remove the stored password.
    pub clear_password: bool,
    pub from: String,
    pub ca_pem: String,
    pub timeout_secs: String,
}

impl Mailer {
    /// The relay in force, with its password opened.
    pub(crate) async fn relay(&self) -> Result<Relay, MailError> {
        if self.from_file() {
            let f = &self.file;
            let ca_pem = match &f.ca_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    MailError::Invalid(format!("smtp.ca_file {}: {e}", path.display()))
                })?),
                None => None,
            };
            return Ok(Relay {
                host: f.host.clone().unwrap_or_default().trim().to_owned(),
                port: f.port,
                security: f.security,
                username: f.username.clone().filter(|u| !u.is_empty()),
                password: f.password.clone(),
                from: f.from.clone().unwrap_or_default(),
                ca_pem,
                timeout: Duration::from_secs(f.timeout_secs.max(1)),
            });
        }
        let row = self.db.smtp_settings().await?;
        if row.host.is_empty() {
            return Err(MailError::NotConfigured);
        }
        let password = match &row.password {
            Some(sealed) => {
                let opened = self.vault.open_secret(PASSWORD_PURPOSE, sealed)?;
                Some(Secret::new(String::from_utf8_lossy(&opened).into_owned()))
            }
            None => None,
        };
        Ok(Relay {
            host: row.host.clone(),
            port: u16::try_from(row.port).unwrap_or(587),
            security: parse_security(&row.security).unwrap_or_default(),
            username: Some(row.username.clone()).filter(|u| !u.is_empty()),
            password,
            from: row.sender.clone(),
            ca_pem: Some(row.ca_pem.clone().into_bytes()).filter(|p| !p.is_empty()),
            timeout: Duration::from_secs(u64::try_from(row.timeout_secs.max(1)).unwrap_or(10)),
        })
    }

    /// The settings in force, for the admin page.
    pub async fn view(&self) -> Result<SettingsView, MailError> {
        if self.from_file() {
            let f = &self.file;
            return Ok(SettingsView {
                from_file: true,
                host: f.host.clone().unwrap_or_default(),
                port: f.port,
                security: f.security,
                username: f.username.clone().unwrap_or_default(),
                has_password: f.password.is_some(),
                from: f.from.clone().unwrap_or_default(),
                ca: f
                    .ca_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                ca_pem: String::new(),
                timeout_secs: f.timeout_secs,
            });
        }
        let row = self.db.smtp_settings().await?;
        Ok(SettingsView {
            from_file: false,
            host: row.host,
            port: u16::try_from(row.port).unwrap_or(587),
            security: parse_security(&row.security).unwrap_or_default(),
            username: row.username,
            has_password: row.password.is_some(),
            from: row.sender,
            ca: if row.ca_pem.is_empty() {
                String::new()
            } else {
                "pasted CA".into()
            },
            ca_pem: row.ca_pem,
            timeout_secs: u64::try_from(row.timeout_secs).unwrap_or(10),
        })
    }

    /// Validates and stores the page's relay (refused while `[smtp]` is in the file).
    /// The password, when given, is sealed; it is never read back to the page.
    /// Returns a one-line summary for the audit log (no secret in it).
    pub async fn save_page_settings(&self, s: &PageSettings) -> Result<String, MailError> {
        if self.from_file() {
            return Err(MailError::ReadOnly);
        }
        let bad = |m: &str| Err(MailError::Invalid(m.into()));
        let host = s.host.trim();
        if host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return bad("the relay is a host name or address, such as smtp.example.org");
        }
        let port: i64 = match s.port.trim().parse() {
            Ok(p @ 1..=65_535) => p,
            _ => return bad("the port is 1 to 65535 (587 for STARTTLS, 465 for TLS)"),
        };
        let Some(security) = parse_security(s.security.trim()) else {
            return bad("choose STARTTLS, TLS or insecure plain");
        };
        let timeout: i64 = match s.timeout_secs.trim().parse() {
            Ok(t @ 1..=MAX_TIMEOUT_SECS) => t,
            _ => return bad("the time-out is 1 to 120 seconds"),
        };
        let from = s.from.trim();
        if !host.is_empty() && from.parse::<lettre::message::Mailbox>().is_err() {
            return bad("the sender is an address such as PrintPark <print@example.org>");
        }
        let ca_pem = s.ca_pem.trim();
        if !ca_pem.is_empty() && !is_pem_certificate(ca_pem) {
            return bad("the CA must be a PEM certificate (-----BEGIN CERTIFICATE-----)");
        }
        let username = s.username.trim();
        let password = if s.clear_password {
            Some(None)
        } else if s.password.is_empty() {
            None
        } else {
            Some(Some(
                self.vault
                    .seal_secret(PASSWORD_PURPOSE, s.password.as_bytes())?,
            ))
        };
        let row = SmtpSettingsRow {
            host: host.to_owned(),
            port,
            security: security_str(security).into(),
            username: username.to_owned(),
            password: None,
            sender: from.to_owned(),
            ca_pem: ca_pem.to_owned(),
            timeout_secs: timeout,
            updated_at: now(),
        };
        self.db
            .save_smtp_settings(&row, password.as_ref().map(|p| p.as_deref()))
            .await?;
        let password_note = match password {
            Some(Some(_)) => "password replaced",
            Some(None) => "password removed",
            None => "password kept",
        };
        Ok(if host.is_empty() {
            "relay removed".into()
        } else {
            format!(
                "{host}:{port} {} user {} ({password_note})",
                security_str(security),
                if username.is_empty() { "-" } else { username }
            )
        })
    }
}

/// At least one certificate, and nothing but certificates, in PEM.
fn is_pem_certificate(pem: &str) -> bool {
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut pem.as_bytes()).collect();
    matches!(certs, Ok(certs) if !certs.is_empty())
}
