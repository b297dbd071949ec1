//! Who is who: users, their credentials (password, PIN, app passwords), sessions,
//! sign-in limits (counted before any secret is checked), and the audit trail of it all.
//!
//! Secrets never leave this module in clear except the once-shown values it makes
//! (a new app password, an admin-reset PIN), which the caller shows and forgets.

use crate::config::SecuritySettings;
use crate::db::{Db, DbError, UserRow};
use crate::vault::{Vault, VaultError};

pub mod app_passwords;
pub mod audit;
pub mod first_run;
// Issue 16: LDAP / Active Directory.
pub mod ldap;
pub mod limits;
pub mod login;
pub mod people;
pub mod secrets;
pub mod station;
// Issue 16: username + password at a release station.
pub mod station_password;
pub mod station_sessions;

pub use audit::{AuditAction, AuditEvent, AuditOutcome};
pub use login::{CsrfBinding, Principal, SessionToken};
pub use people::{NewUserRequest, UserUpdate};
pub use secrets::HashCost;
pub use station::{AtPrinter, BadgeOutcome};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Wrong login or secret; deliberately says no more.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    Locked { retry_after_secs: i64 },
    #[error("this account is disabled")]
    Disabled,
    #[error("not signed in")]
    Unauthenticated,
    #[error("not allowed")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("internal error: {0}")]
    Internal(String),
    // Issue 16, LDAP / Active Directory: a directory person's password could not be
    // checked (the directory is down, slow or misconfigured); local accounts still work.
    #[error("the directory did not answer: {0}")]
    DirectoryUnavailable(String),
    #[error(transparent)]
    Db(DbError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<DbError> for IdentityError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NotFound => IdentityError::NotFound,
            other => IdentityError::Db(other),
        }
    }
}

pub type IdentityResult<T> = Result<T, IdentityError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "admin" {
            Role::Admin
        } else {
            Role::User
        }
    }
}

/// Where a person comes from: typed in here, synced from LDAP / Active Directory, or
/// created at a first single sign-on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserSource {
    Local,
    Ldap,
    Oidc,
}

impl UserSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UserSource::Local => "local",
            UserSource::Ldap => "ldap",
            UserSource::Oidc => "oidc",
        }
    }

    /// The stored value; the column's CHECK allows only these three, and an unknown
    /// value (a newer server's) is read as local, which grants nothing more.
    fn parse(text: &str) -> Self {
        match text {
            "ldap" => UserSource::Ldap,
            "oidc" => UserSource::Oidc,
            _ => UserSource::Local,
        }
    }
}

/// A person as the rest of the server sees them: no hashes.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub name: String,
    pub department: String,
    pub role: Role,
    pub disabled: bool,
    pub has_pin: bool,
    /// Hours this user's jobs are held; `None` = the queue default.
    pub hold_hours: Option<i64>,
    pub created_at: i64,
    pub source: UserSource,
    /// An admin reset the password: the next sign-in must choose a new one first.
    pub must_change_password: bool,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The name to greet with: full name, else username.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.username
        } else {
            &self.name
        }
    }
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            email: row.email,
            name: row.name,
            department: row.department,
            role: Role::parse(&row.role),
            disabled: row.disabled,
            has_pin: row.pin_hash.is_some(),
            hold_hours: row.hold_hours,
            created_at: row.created_at,
            source: UserSource::parse(&row.source),
            must_change_password: row.must_change_password,
        }
    }
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub addr: String,
    pub user_agent: String,
}

/// The identity service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Identity {
    db: Db,
    vault: Vault,
    security: SecuritySettings,
    // Issue 16: the settings file's `[ldap]` and the cache of good directory binds.
    ldap: std::sync::Arc<ldap::bind::DirectoryLink>,
}

impl Identity {
    pub fn new(db: Db, vault: Vault, security: SecuritySettings) -> Self {
        Self {
            db,
            vault,
            security,
            ldap: std::sync::Arc::default(),
        }
    }

    /// Issue 16: the settings file's `[ldap]` section (its `url` set = it wins over the
    /// admin page). Directory people sign in with a bind through it.
    pub fn with_ldap_settings(mut self, file: &crate::config::LdapSettings) -> Self {
        self.ldap = std::sync::Arc::new(ldap::bind::DirectoryLink::new(file));
        self
    }

    fn cost(&self) -> HashCost {
        HashCost {
            memory_kib: self.security.argon2_memory_kib,
            iterations: self.security.argon2_iterations,
        }
    }

    /// True until the first admin exists: the first-run page is open only then, and
    /// never again once it closed (see `first_run`).
    pub async fn needs_first_admin(&self) -> IdentityResult<bool> {
        self.setup_open().await
    }

    pub async fn user(&self, id: i64) -> IdentityResult<User> {
        Ok(self.db.user_by_id(id).await?.into())
    }
}

pub(crate) fn normalize_login(login: &str) -> String {
    login.trim().to_lowercase()
}
