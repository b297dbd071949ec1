//! Sending e-mail: the [`Mailer`] service over an SMTP relay (lettre, async on tokio,
//! rustls), used by the password reset and, later, the notifications.
//!
//! Which relay: `[smtp]` from the settings file or the environment wins; without it,
//! what the admin page stored in the database (its password sealed by the vault, never
//! shown again). Sending says what failed — the connection, TLS, the sign-in at the
//! relay, a refused sender, recipient or message, a time-out — in words that carry no
//! secret. Callers that answer a page send in the background (see `identity`).
//!
//! This room sits above `config`, `db` and `vault` and below `identity`.

use std::time::Duration;

use crate::config::{Secret, SmtpSecurity, SmtpSettings};
use crate::db::{Db, DbError};
use crate::vault::{Vault, VaultError};

mod message;
mod relay;
pub mod settings;

pub use message::OutgoingMail;
pub use settings::{PageSettings, SettingsView};

/// Why a message was not sent. The texts are safe to show an admin: relay replies and
/// network errors, never a password or a message body.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("no mail relay is set up (Admin › E-mail)")]
    NotConfigured,
    #[error("{0}")]
    Invalid(String),
    #[error("could not connect to the mail relay {relay}: {reason}")]
    Connect { relay: String, reason: String },
    #[error("TLS with the mail relay {relay} failed: {reason}")]
    Tls { relay: String, reason: String },
    #[error("the mail relay {relay} did not answer within {secs} s")]
    TimedOut { relay: String, secs: u64 },
    #[error("the mail relay refused the user name or password: {0}")]
    Auth(String),
    #[error("the mail relay refused the sender: {0}")]
    SenderRefused(String),
    #[error("the mail relay refused the recipient: {0}")]
    RecipientRefused(String),
    #[error("the mail relay refused the message: {0}")]
    MessageRefused(String),
    #[error("the mail relay answered something unexpected: {0}")]
    Protocol(String),
    #[error("the mail settings are read from the settings file; change them there")]
    ReadOnly,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The relay a message goes through, resolved from the file or the page.
#[derive(Clone)]
pub(crate) struct Relay {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    /// PEM of the CA to trust (then only it); `None` = the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    pub timeout: Duration,
}

impl Relay {
    /// `host:port`, for messages.
    pub fn name(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The mail service. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    db: Db,
    vault: Vault,
    /// `[smtp]` of the settings; `host` set = it wins over the page.
    file: SmtpSettings,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from_file", &self.from_file())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    pub fn new(db: Db, vault: Vault, file: SmtpSettings) -> Self {
        Self { db, vault, file }
    }

    /// True when `[smtp]` is set in the settings file or environment (the page is then
    /// read-only).
    pub fn from_file(&self) -> bool {
        self.file
            .host
            .as_deref()
            .is_some_and(|h| !h.trim().is_empty())
    }

    /// Whether any relay is set up (a reset mail can be sent at all).
    pub async fn is_configured(&self) -> Result<bool, MailError> {
        Ok(self.from_file() || !self.db.smtp_settings().await?.host.is_empty())
    }

    /// Sends one message and waits for the relay's answer (bounded by the relay's
    /// time-out at each step). Pages that must answer at once call this from a task.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let relay = self.relay().await?;
        let built = mail.build(&relay.from)?;
        let result = relay::deliver(&relay, &built.envelope, &built.bytes).await;
        match &result {
            Ok(()) => metrics::counter!("printpark_mail_sent_total").increment(1),
            // The caller logs and audits it, with what the message was for.
            Err(_) => metrics::counter!("printpark_mail_failed_total").increment(1),
        }
        result
    }
}
