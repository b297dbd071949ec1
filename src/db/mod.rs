//! The repository layer: every SQL statement of PrintPark lives under this module,
//! one file per aggregate. The backend (SQLite or Postgres) is picked from the URL.
//!
//! Statements are written once with `$1`-style parameters, which both SQLite and
//! Postgres accept; [`on_backend!`] compiles the same body once per backend so each
//! runs natively typed (no `sqlx::Any`). Where dialects differ, the file branches
//! explicitly, next to each other.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

// Issue 16, accounts: admin edits under the last-admin rule (`accounts`), CSV
// imports (`user_imports`).
pub mod accounts;
pub mod agent_orders;
pub mod agents;
pub mod audit;
pub mod badges;
pub mod blobs;
pub mod devices;
pub mod discovery;
pub mod first_run;
pub mod infra_events;
pub mod jobs;
// issue 16, e-mail and password reset
pub mod mail;
// Issue 16, LDAP / Active Directory.
pub mod ldap;
pub mod ldap_people;
pub mod output_devices;
pub mod printers;
// Issue 20: the public address typed on the first-run / settings page.
pub mod public_address;
pub mod quota;
pub mod releases;
pub mod sessions;
pub mod sign_in_limits;
pub mod user_imports;
pub mod users;
// Single sign-on (issue 16, oidc).
pub mod oidc;

pub use agent_orders::AgentOrderRow;
pub use agents::{AgentRow, AgentTrustRow};
pub use audit::{AuditEntry, AuditFilter, AuditRecord};
pub use blobs::SealedBlobRow;
pub use devices::{DeviceFields, DeviceRow, SupplyRow};
pub use discovery::{CredentialRow, DiscoverySettingsRow, RangeRow, ScanRow};
pub use infra_events::EventRow;
pub use jobs::{DocumentRow, JobRow, NewDocument, NewJob};
pub use mail::{ResetDone, SmtpSettingsRow};
// Issue 16, LDAP / Active Directory.
pub use ldap::{LdapRunCounts, LdapSettingsRow, LdapSyncRunRow};
pub use ldap_people::{LdapChange, LdapChangeAudit, LdapPersonFields, LdapPersonRow};
pub use output_devices::{DeviceReportFields, OutputDeviceRow};
pub use printers::{PrinterCheck, PrinterFields, PrinterRow};
pub use releases::{ReleaseEnd, ReleaseItem, ReleaseRow, ReleaseState, UnknownReleaseState};
pub use sessions::{DeviceSessionRow, SessionRow};
pub use sign_in_limits::{Failure, LockRule, Reservation};
pub use users::{AppPasswordRow, NewUser, UserRow};
// Issue 16, accounts.
pub use accounts::UserFields;
pub use badges::BadgeRow;
pub use user_imports::UserImportRow;
// Single sign-on (issue 16, oidc).
pub use oidc::{NewOidcPerson, OidcProviderFields, OidcProviderRow, PendingLogin, PendingLoginRow};

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend `$db` is.
macro_rules! on_backend {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("database unreachable: {0}")]
    Unreachable(String),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => DbError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                DbError::Conflict(db.constraint().unwrap_or("unique").to_owned())
            }
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => {
                DbError::Unreachable(error.to_string())
            }
            _ => DbError::Other(error),
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// A connection pool to one of the two supported backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// Connects once; see [`Db::connect_with_retry`] for start-up.
    pub async fn connect(url: &str, max_connections: u32) -> DbResult<Self> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            if let Some(file) = sqlite_file_to_create(url, options.get_filename()) {
                // Made here, 0700 folder and 0600 file, before SQLite makes them with
                // the umask's mode; its -wal and -shm files take the database's mode.
                if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                    crate::private_files::create_private_dir(parent)
                        .map_err(|e| DbError::Unreachable(format!("{}: {e}", parent.display())))?;
                }
                crate::private_files::create_private_file(file)
                    .map_err(|e| DbError::Unreachable(format!("{}: {e}", file.display())))?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else {
            let options = PgConnectOptions::from_str(url)?;
            // One direct attempt first: the pool would silently keep retrying a refused
            // connection until its acquire timeout, hiding the outage from our backoff.
            sqlx::Connection::close(
                <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await?,
            )
            .await?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        }
    }

    /// Start-up connection: retries an unreachable database with exponential backoff
    /// (1 s, 2 s, 4 s … at most 15 s between tries), logging once per try, and gives up
    /// after `timeout` with the last error. Configuration errors are not retried.
    pub async fn connect_with_retry(
        url: &str,
        max_connections: u32,
        timeout: Duration,
    ) -> DbResult<Self> {
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_secs(1);
        let shown = crate::config::redact_url(url);
        loop {
            match Db::connect(url, max_connections).await {
                Ok(db) => return Ok(db),
                Err(DbError::Unreachable(reason)) => {
                    let waited = started.elapsed();
                    if waited + delay > timeout {
                        return Err(DbError::Unreachable(format!(
                            "{shown}: {reason} (gave up after {}s; set database.connect_timeout_secs to wait longer)",
                            waited.as_secs()
                        )));
                    }
                    tracing::warn!(database = %shown, %reason, retry_in_secs = delay.as_secs(), "database unreachable, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(15));
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> DbResult<()> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Cheap liveness query for `/readyz`.
    pub async fn ping(&self) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_backend!(self, |pool| pool.close().await)
    }
}

/// True for a SQLite URL that never touches a file.
fn sqlite_in_memory(url: &str, file: &std::path::Path) -> bool {
    url.contains(":memory:")
        || url.contains("mode=memory")
        || file.as_os_str().is_empty()
        || file.to_string_lossy().starts_with("file:")
}

/// The database file of a SQLite URL that may create it (not in memory, not read-only).
fn sqlite_file_to_create<'a>(url: &str, file: &'a std::path::Path) -> Option<&'a std::path::Path> {
    (!sqlite_in_memory(url, file) && !url.contains("mode=ro")).then_some(file)
}

/// The files of a SQLite database (with its `-wal` and `-shm`); empty for Postgres
/// and in-memory databases.
pub fn sqlite_files(url: &str) -> Vec<std::path::PathBuf> {
    let Some(options) = url
        .starts_with("sqlite:")
        .then(|| SqliteConnectOptions::from_str(url).ok())
        .flatten()
    else {
        return Vec::new();
    };
    let file = options.get_filename();
    if sqlite_in_memory(url, file) {
        return Vec::new();
    }
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut name = file.as_os_str().to_owned();
            name.push(suffix);
            std::path::PathBuf::from(name)
        })
        .collect()
}

/// An update or delete that must have touched its row: none means "not found".
pub(crate) fn touched(rows_affected: u64) -> DbResult<()> {
    if rows_affected == 0 {
        Err(DbError::NotFound)
    } else {
        Ok(())
    }
}
