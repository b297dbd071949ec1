//! On-site agents (`printpark agent`): their enrolment codes, credentials, approval
//! and what they last reported. The printers an agent serves are its output device
//! rows (`output_devices.agent_id`).

use super::{Db, DbError, DbResult, OutputDeviceRow, on_backend};
use crate::clock::now;

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
    /// The public id of the site key the admin confirmed at approval ('' = none
    /// confirmed). Parking and failover go by this one, never by what the agent says.
    pub site_key_id: String,
    /// `people` (only those in `agent_people`; none = nobody) or `anyone`.
    pub park_scope: String,
    /// The admin designated it to deliver other workstations' failover copies.
    pub failover_deliverer: bool,
    /// The site key id the agent last reported (shown to the admin to confirm).
    pub site_key_reported: String,
}

/// What the admin decided about an agent: whom it parks for and whether it takes
/// failover orders.
#[derive(Debug, Clone, Default)]
pub struct AgentTrustRow {
    /// `people` or `anyone`.
    pub park_scope: String,
    /// The people (user ids) it may park for when the scope is `people`.
    pub people: Vec<i64>,
    pub failover_deliverer: bool,
}

/// Writes an agent's trust inside the caller's transaction (same SQL on both backends).
macro_rules! set_trust {
    ($tx:ident, $id:expr, $trust:expr) => {{
        sqlx::query("UPDATE agents SET park_scope = $1, failover_deliverer = $2 WHERE id = $3")
            .bind(&$trust.park_scope)
            .bind($trust.failover_deliverer)
            .bind($id)
            .execute(&mut *$tx)
            .await?;
        sqlx::query("DELETE FROM agent_people WHERE agent_id = $1")
            .bind($id)
            .execute(&mut *$tx)
            .await?;
        for user in &$trust.people {
            sqlx::query("INSERT INTO agent_people (agent_id, user_id) VALUES ($1, $2)")
                .bind($id)
                .bind(*user)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

const AGENT_SELECT: &str = "SELECT id, name, login, secret_hash, state, hostname, version, health, last_seen_at, approved_at, revoked_at, created_at, site_key_id, park_scope, failover_deliverer, site_key_reported FROM agents";

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

    /// pending → active, with the site key id the admin confirmed (it must be the one
    /// the agent reported, or '' for none) and the people it may park for, in one
    /// transaction. `NotFound` when the agent is not pending or reports another id.
    pub async fn approve_agent(
        &self,
        id: i64,
        site_key_id: &str,
        trust: &AgentTrustRow,
    ) -> DbResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE agents SET state = 'active', approved_at = $1, site_key_id = $2 \
                 WHERE id = $3 AND state = 'pending' AND ($2 = '' OR site_key_reported = $2)",
            )
            .bind(now())
            .bind(site_key_id)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done != 1 {
                return Err(DbError::NotFound);
            }
            set_trust!(tx, id, trust);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Whom the agent may park for, and whether it takes failover orders.
    pub async fn set_agent_trust(&self, id: i64, trust: &AgentTrustRow) -> DbResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            set_trust!(tx, id, trust);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Fixes the agent's site key id to the one it reports (the admin confirmed it on
    /// the page). False when it reports another one by now.
    pub async fn confirm_site_key(&self, id: i64, site_key_id: &str) -> DbResult<bool> {
        Ok(on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE agents SET site_key_id = $1 WHERE id = $2 AND state = 'active' \
                 AND site_key_reported = $1 AND $1 <> ''",
            )
            .bind(site_key_id)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        }) == 1)
    }

    /// Records the site key id an agent reports. True when it differs from what it
    /// reported before (so a changed report is audited once, not on every heartbeat).
    pub async fn report_site_key(&self, id: i64, reported: &str) -> DbResult<bool> {
        Ok(on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE agents SET site_key_reported = $1 WHERE id = $2 AND site_key_reported <> $1",
            )
            .bind(reported)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        }) == 1)
    }

    /// The people an agent may park for: (user id, username).
    pub async fn agent_people(&self, id: i64) -> DbResult<Vec<(i64, String)>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, (i64, String)>(
                "SELECT u.id, u.username FROM agent_people p JOIN users u ON u.id = p.user_id \
                 WHERE p.agent_id = $1 ORDER BY u.username",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// May this agent park jobs owned by this user (the admin's choice at approval)?
    pub async fn agent_may_park_for(&self, agent_id: i64, user_id: i64) -> DbResult<bool> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM agents a WHERE a.id = $1 AND a.state = 'active' AND (a.park_scope = 'anyone' \
                 OR EXISTS (SELECT 1 FROM agent_people p WHERE p.agent_id = a.id AND p.user_id = $2))",
            )
            .bind(agent_id)
            .bind(user_id)
            .fetch_one(pool)
            .await?
        }) == 1)
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

    /// What the agent says about itself on each heartbeat (its site key id is kept
    /// apart: `report_site_key`).
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
            super::output_devices::DEVICE_SELECT
        );
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, OutputDeviceRow>(&sql)
                .bind(agent_id)
                .fetch_all(pool)
                .await?
        }))
    }
}
