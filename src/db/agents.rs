//! On-site agents (`printpark agent`): their enrolment codes, credentials, approval
//! and what they last reported. The printers an agent serves are its output device
//! rows (`output_devices.agent_id`).

use super::{Db, DbError, DbResult, OutputDeviceRow, now, on_backend};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentRow {
    pub id: i64,
    pub name: String,
    pub login: String,
    pub secret_hash: Vec<u8>,
    /// pending | active | revoked
    pub state: String,
    pub hostname: String,
    pub version: String,
    /// The agent's last health report (JSON).
    pub health: String,
    pub last_seen_at: Option<i64>,
    pub approved_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

const AGENT_SELECT: &str = "SELECT id, name, login, secret_hash, state, hostname, version, health, last_seen_at, approved_at, revoked_at, created_at FROM agents";

impl Db {
    pub async fn insert_enrolment_code(
        &self,
        code_hash: &[u8],
        created_by: i64,
        expires_at: i64,
    ) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO agent_enrolment_codes (code_hash, created_by, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(code_hash)
            .bind(created_by)
            .bind(expires_at)
            .bind(now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Uses up an enrolment code and creates the (pending) agent in one transaction:
    /// a code works once, even when two agents race with it. `NotFound` when the code
    /// is unknown, used or expired.
    pub async fn enrol_agent(
        &self,
        code_hash: &[u8],
        name: &str,
        login: &str,
        secret_hash: &[u8],
        hostname: &str,
        version: &str,
    ) -> DbResult<i64> {
        let at = now();
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let used = sqlx::query(
                "UPDATE agent_enrolment_codes SET used_at = $1 \
                 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(at)
            .bind(code_hash)
            .execute(&mut *tx)
            .await?;
            if used.rows_affected() != 1 {
                return Err(DbError::NotFound);
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO agents (name, login, secret_hash, hostname, version, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(name)
            .bind(login)
            .bind(secret_hash)
            .bind(hostname)
            .bind(version)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    pub async fn agent_by_login(&self, login: &str) -> DbResult<AgentRow> {
        let sql = format!("{AGENT_SELECT} WHERE login = $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, AgentRow>(&sql)
                .bind(login)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn agent_by_id(&self, id: i64) -> DbResult<AgentRow> {
        let sql = format!("{AGENT_SELECT} WHERE id = $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, AgentRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Every agent, newest first (revoked ones included).
    pub async fn agents(&self) -> DbResult<Vec<AgentRow>> {
        let sql = format!("{AGENT_SELECT} ORDER BY id DESC");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, AgentRow>(&sql).fetch_all(pool).await?
        }))
    }

    /// pending → active. `NotFound` when the agent is not pending.
    pub async fn approve_agent(&self, id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE agents SET state = 'active', approved_at = $1 WHERE id = $2 AND state = 'pending'",
            )
            .bind(now())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if done == 1 {
            Ok(())
        } else {
            Err(DbError::NotFound)
        }
    }

    /// Revokes the agent's credential (its device rows are revoked by the caller).
    pub async fn revoke_agent(&self, id: i64) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE agents SET state = 'revoked', revoked_at = $1 WHERE id = $2 AND state <> 'revoked'",
            )
            .bind(now())
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// What the agent says about itself on each heartbeat.
    pub async fn touch_agent(
        &self,
        id: i64,
        hostname: &str,
        version: &str,
        health: &str,
    ) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE agents SET hostname = $1, version = $2, health = $3, last_seen_at = $4 WHERE id = $5",
            )
            .bind(hostname)
            .bind(version)
            .bind(health)
            .bind(now())
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The output device rows of an agent (the printers it serves), live ones only.
    pub async fn output_devices_of_agent(&self, agent_id: i64) -> DbResult<Vec<OutputDeviceRow>> {
        let sql = format!(
            "{} WHERE agent_id = $1 AND revoked_at IS NULL ORDER BY id",
            super::infra::DEVICE_SELECT
        );
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, OutputDeviceRow>(&sql)
                .bind(agent_id)
                .fetch_all(pool)
                .await?
        }))
    }
}
