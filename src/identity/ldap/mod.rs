//! The organisation's directory (LDAP / Active Directory): the [`Directory`] service
//! syncs people from it (on a schedule and on "Sync now"), tests the connection, and
//! keeps the admin page's settings; `bind.rs` signs directory people in with the
//! directory's password (called by `login.rs`'s `check_password`).
//!
//! Rooms: `settings.rs` (file or page, presets), `connect.rs` (TCP, TLS, bind, each
//! with the time-out), `sync.rs` (paged search, create / update / disable), `bind.rs`
//! (sign-in and its short cache), `admin.rs` (the page's settings, audited).

pub mod admin;
pub mod bind;
pub mod connect;
pub mod plan;
pub mod settings;
pub mod sync;

pub use admin::SettingsForm;
pub use settings::DirectorySettings;

use crate::db::{Db, DbError, LdapSyncRunRow};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, User};
use crate::vault::{Vault, VaultError};

/// Why the directory could not be used. The variants name the step that failed, so
/// "Test connection" can say what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("no directory is configured")]
    NotConfigured,
    #[error("{0}")]
    Invalid(String),
    /// TCP: the server could not be reached.
    #[error("cannot reach the directory: {0}")]
    Connect(String),
    #[error("TLS with the directory failed: {0}")]
    Tls(String),
    /// The bind account was refused (or the bind failed otherwise).
    #[error("bind refused: {0}")]
    Bind(String),
    #[error("search failed: {0}")]
    Search(String),
    #[error("the directory did not answer within {secs} s ({step})")]
    Timeout { step: &'static str, secs: u64 },
    #[error("a directory sync is already running")]
    Busy,
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl LdapError {
    /// The step that failed, for the "Test connection" answer.
    pub fn step(&self) -> &'static str {
        match self {
            LdapError::Connect(_) => "TCP",
            LdapError::Tls(_) => "TLS",
            LdapError::Bind(_) => "bind",
            LdapError::Search(_) => "search",
            LdapError::Timeout { step, .. } => step,
            _ => "settings",
        }
    }
}

/// One directory entry a sync left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    pub entry: String,
    pub reason: String,
}

/// What one sync did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    pub created: u64,
    pub updated: u64,
    pub disabled: u64,
    pub unchanged: u64,
    pub skipped: Vec<SkippedEntry>,
}

/// The directory service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Directory {
    identity: Identity,
}

impl Directory {
    pub fn new(identity: Identity) -> Self {
        Self { identity }
    }

    fn db(&self) -> &Db {
        &self.identity.db
    }

    fn vault(&self) -> &Vault {
        &self.identity.vault
    }

    /// The settings in force (the file's, else the page's), if any.
    pub async fn settings(&self) -> Result<Option<DirectorySettings>, LdapError> {
        self.identity.directory_settings().await
    }

    /// True when `[ldap]` is set in the settings file (the page is read-only then).
    pub fn set_in_file(&self) -> bool {
        self.identity.ldap.file.is_some()
    }

    async fn configured(&self) -> Result<DirectorySettings, LdapError> {
        self.settings().await?.ok_or(LdapError::NotConfigured)
    }

    /// Connects, binds with the bind account and counts the people the filter finds.
    pub async fn test_connection(&self) -> Result<u64, LdapError> {
        let s = self.configured().await?;
        settings::check(&s)?;
        let mut ldap = connect::open_as_service(&s).await?;
        let found = sync::count_people(&mut ldap, &s).await;
        let _ = ldap.unbind().await;
        found
    }

    /// The last runs, newest first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<LdapSyncRunRow>, LdapError> {
        Ok(self.db().ldap_sync_runs(limit).await?)
    }

    /// The entries a run skipped, with the reasons.
    pub async fn skipped_of(
        &self,
        run_id: i64,
        limit: i64,
    ) -> Result<Vec<SkippedEntry>, LdapError> {
        Ok(self
            .db()
            .ldap_skipped_of(run_id, limit)
            .await?
            .into_iter()
            .map(|(entry, reason)| SkippedEntry { entry, reason })
            .collect())
    }

    async fn audit(
        &self,
        actor: Option<&User>,
        action: AuditAction,
        outcome: AuditOutcome,
        client: &ClientInfo,
        detail: &str,
    ) -> Result<(), LdapError> {
        self.identity
            .audit(AuditEvent {
                actor,
                action,
                target: "directory",
                outcome,
                client,
                detail,
            })
            .await?;
        Ok(())
    }
}
