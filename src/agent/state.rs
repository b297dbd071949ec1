//! The agent's small local state file (SQLite, `agent.db` in the state directory): its
//! credential and the pinned server certificate, the last assignment and health (for
//! `printpark agent status`), and one row per job it is delivering, so a restart
//! neither loses an outcome nor sends a job twice.
//!
//! A delivery row moves `fetched` → `sending` → `done`; it is deleted once the server
//! took the outcome. After a restart: `fetched` (nothing reached the printer) is
//! fetched and delivered again, `sending` (the printer may hold part of it) is
//! reported as aborted so the server puts it in "needs attention", `done` is reported.

use std::path::Path;
use std::str::FromStr;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use super::AgentError;

/// What the agent needs to reach its server.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// `https://host:port`
    pub server: String,
    pub login: String,
    pub secret: String,
    /// SHA-256 (hex) of the server's certificate.
    pub pin: String,
}

/// A job the agent holds, as far as it got.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Delivery {
    pub device_login: String,
    pub job_id: i64,
    /// fetched | sending | done
    pub phase: String,
    /// The job state to report once `done` (RFC 8011: 9 completed, 8 aborted, …);
    /// 0 = the printer took nothing (the job is handed back with Acknowledge-Job).
    pub outcome: i64,
    pub message: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct AgentState {
    pool: SqlitePool,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    device_login TEXT NOT NULL,
    job_id       INTEGER NOT NULL,
    phase        TEXT NOT NULL,
    outcome      INTEGER NOT NULL DEFAULT 0,
    message      TEXT NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (device_login, job_id)
);
CREATE TABLE IF NOT EXISTS printer_pins (uri TEXT PRIMARY KEY, pin TEXT NOT NULL);
";

fn failed(e: sqlx::Error) -> AgentError {
    AgentError::State(e.to_string())
}

impl AgentState {
    /// Opens (or creates) `agent.db` in `dir`, which is created readable by its owner only.
    pub async fn open(dir: &Path) -> Result<Self, AgentError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| AgentError::State(format!("{}: {e}", dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // The directory holds the agent's credential: it may not stay open to
            // others. A directory that is private already (not ours to chmod) will do.
            if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
                let private =
                    std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o077 == 0);
                if !private {
                    return Err(AgentError::State(format!(
                        "{}: cannot make it private to its owner: {e}",
                        dir.display()
                    )));
                }
                tracing::warn!(dir = %dir.display(), error = %e, "the state directory's mode could not be set; it is private already");
            }
        }
        let url = format!("sqlite://{}", dir.join("agent.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(failed)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Every outcome must survive a power cut: it is what keeps a job from
            // printing twice.
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(failed)?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await.map_err(failed)?;
        Ok(Self { pool })
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, AgentError> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)
    }

    pub async fn set(&self, key: &str, value: &str) -> Result<(), AgentError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(failed)?;
        Ok(())
    }

    pub async fn enrolment(&self) -> Result<Option<Enrolment>, AgentError> {
        let (Some(server), Some(login), Some(secret), Some(pin)) = (
            self.get("server").await?,
            self.get("login").await?,
            self.get("secret").await?,
            self.get("server_pin").await?,
        ) else {
            return Ok(None);
        };
        Ok(Some(Enrolment {
            server,
            login,
            secret,
            pin,
        }))
    }

    pub async fn save_enrolment(&self, enrolment: &Enrolment) -> Result<(), AgentError> {
        self.set("server", &enrolment.server).await?;
        self.set("server_pin", &enrolment.pin).await?;
        self.set("secret", &enrolment.secret).await?;
        self.set("login", &enrolment.login).await
    }

    /// Records how far a job got (inserting it on its first step).
    pub async fn record(
        &self,
        device_login: &str,
        job_id: i64,
        phase: &str,
        outcome: i64,
        message: &str,
    ) -> Result<(), AgentError> {
        sqlx::query(
            "INSERT INTO deliveries (device_login, job_id, phase, outcome, message, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (device_login, job_id) DO UPDATE SET phase = excluded.phase, \
             outcome = excluded.outcome, message = excluded.message, updated_at = excluded.updated_at",
        )
        .bind(device_login)
        .bind(job_id)
        .bind(phase)
        .bind(outcome)
        .bind(message)
        .bind(crate::clock::now())
        .execute(&self.pool)
        .await
        .map_err(failed)?;
        Ok(())
    }

    /// The server has the outcome: the job is no longer the agent's.
    pub async fn forget(&self, device_login: &str, job_id: i64) -> Result<(), AgentError> {
        sqlx::query("DELETE FROM deliveries WHERE device_login = $1 AND job_id = $2")
            .bind(device_login)
            .bind(job_id)
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// The jobs a printer's device holds, oldest first.
    pub async fn deliveries(&self, device_login: &str) -> Result<Vec<Delivery>, AgentError> {
        sqlx::query_as(
            "SELECT device_login, job_id, phase, outcome, message, updated_at FROM deliveries \
             WHERE device_login = $1 ORDER BY job_id",
        )
        .bind(device_login)
        .fetch_all(&self.pool)
        .await
        .map_err(failed)
    }

    /// Every job held, for `status` and the health report.
    pub async fn all_deliveries(&self) -> Result<Vec<Delivery>, AgentError> {
        sqlx::query_as(
            "SELECT device_login, job_id, phase, outcome, message, updated_at FROM deliveries ORDER BY job_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(failed)
    }

    /// The pinned certificate of a local printer (trust on first use, like the server).
    pub async fn printer_pin(&self, uri: &str) -> Result<Option<String>, AgentError> {
        sqlx::query_scalar("SELECT pin FROM printer_pins WHERE uri = $1")
            .bind(uri)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)
    }

    /// Pins the certificate a printer showed on its first delivery. A failed write is
    /// logged, never dropped: the job still goes (as on the server), and the next
    /// delivery trusts on first use again.
    pub async fn pin_on_first_use(&self, uri: &str, pin: &str) {
        if let Err(e) = self.pin_printer(uri, pin).await {
            tracing::warn!(printer = %uri, error = %e, "pinning the printer's certificate failed");
        }
    }

    pub async fn pin_printer(&self, uri: &str, pin: &str) -> Result<(), AgentError> {
        sqlx::query(
            "INSERT INTO printer_pins (uri, pin) VALUES ($1, $2) ON CONFLICT (uri) DO NOTHING",
        )
        .bind(uri)
        .bind(pin)
        .execute(&self.pool)
        .await
        .map_err(failed)?;
        Ok(())
    }

    /// Closes the state file, so every later read or write fails (tests of failures).
    #[cfg(test)]
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
