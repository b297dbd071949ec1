//! SNMP discovery's own records: its settings (schedule), the address ranges to
//! scan, the SNMP credentials to try, and the scans with their progress. The devices
//! a scan finds are in `devices.rs`.

use super::{Db, DbResult, on_backend, touched};
use crate::clock::now;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CredentialRow {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub community: Option<Vec<u8>>,
    pub v3_user: String,
    pub auth_proto: String,
    pub auth_key: Option<Vec<u8>>,
    pub priv_proto: String,
    pub priv_key: Option<Vec<u8>>,
    pub context: String,
    pub position: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RangeRow {
    pub id: i64,
    pub spec: String,
    pub exclude: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DiscoverySettingsRow {
    pub schedule: String,
    pub at_minute: i64,
    pub weekday: i64,
    pub rate_pps: i64,
    pub timeout_ms: i64,
    pub retries: i64,
    pub port: i64,
    pub status_every_min: i64,
    pub last_scheduled_scan: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScanRow {
    pub id: i64,
    pub trigger_source: String,
    pub ranges: String,
    pub state: String,
    pub total: i64,
    pub probed: i64,
    pub printers: i64,
    pub others: i64,
    pub packets: i64,
    pub cancel: bool,
    pub error: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

const SCAN_COLUMNS: &str = "id, trigger_source, ranges, state, total, probed, printers, others, packets, cancel, error, started_at, finished_at";

impl Db {
    // --- settings, ranges, credentials --------------------------------------------

    pub async fn discovery_settings(&self) -> DbResult<DiscoverySettingsRow> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, DiscoverySettingsRow>(
                "SELECT schedule, at_minute, weekday, rate_pps, timeout_ms, retries, port, status_every_min, last_scheduled_scan FROM discovery_settings WHERE id = 1",
            )
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn save_discovery_settings(&self, s: &DiscoverySettingsRow) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE discovery_settings SET schedule = $1, at_minute = $2, weekday = $3, rate_pps = $4, timeout_ms = $5, retries = $6, port = $7, status_every_min = $8 WHERE id = 1",
            )
            .bind(&s.schedule)
            .bind(s.at_minute)
            .bind(s.weekday)
            .bind(s.rate_pps)
            .bind(s.timeout_ms)
            .bind(s.retries)
            .bind(s.port)
            .bind(s.status_every_min)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Claims the scheduled scan due at `due` (once, whichever process gets here first).
    pub async fn claim_scheduled_scan(&self, due: i64) -> DbResult<bool> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE discovery_settings SET last_scheduled_scan = $1 WHERE id = 1 AND (last_scheduled_scan IS NULL OR last_scheduled_scan < $1)",
            )
            .bind(due)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    pub async fn insert_range(&self, spec: &str, exclude: bool) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO discovery_ranges (spec, exclude, created_at) VALUES ($1, $2, $3)",
            )
            .bind(spec)
            .bind(exclude)
            .bind(now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn ranges(&self) -> DbResult<Vec<RangeRow>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, RangeRow>(
                "SELECT id, spec, exclude, created_at FROM discovery_ranges ORDER BY exclude, id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn delete_range(&self, id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM discovery_ranges WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    pub async fn insert_credential(&self, c: &CredentialRow) -> DbResult<i64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO snmp_credentials (name, version, community, v3_user, auth_proto, auth_key, priv_proto, priv_key, context, position, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, (SELECT COALESCE(MAX(position), 0) + 1 FROM snmp_credentials), $10) RETURNING id",
            )
            .bind(&c.name)
            .bind(&c.version)
            .bind(c.community.as_deref())
            .bind(&c.v3_user)
            .bind(&c.auth_proto)
            .bind(c.auth_key.as_deref())
            .bind(&c.priv_proto)
            .bind(c.priv_key.as_deref())
            .bind(&c.context)
            .bind(now())
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn credentials(&self) -> DbResult<Vec<CredentialRow>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, CredentialRow>(
                "SELECT id, name, version, community, v3_user, auth_proto, auth_key, priv_proto, priv_key, context, position, created_at FROM snmp_credentials ORDER BY position, id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn delete_credential(&self, id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM snmp_credentials WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    // --- scans ----------------------------------------------------------------------

    /// Starts a scan unless one is running (one at a time, across processes).
    pub async fn insert_scan(
        &self,
        trigger: &str,
        ranges: &str,
        total: i64,
    ) -> DbResult<Option<i64>> {
        let at = now();
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO scans (trigger_source, ranges, state, total, started_at, heartbeat) \
                 SELECT $1, $2, 'running', $3, $4, $4 WHERE NOT EXISTS \
                 (SELECT 1 FROM scans WHERE state = 'running' AND heartbeat > $4 - 60) RETURNING id",
            )
            .bind(trigger)
            .bind(ranges)
            .bind(total)
            .bind(at)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Writes a running scan's counters; returns whether it was asked to stop.
    pub async fn scan_progress(
        &self,
        id: i64,
        probed: i64,
        printers: i64,
        others: i64,
        packets: i64,
    ) -> DbResult<bool> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar::<_, bool>(
                "UPDATE scans SET probed = $1, printers = $2, others = $3, packets = $4, heartbeat = $6 WHERE id = $5 RETURNING cancel",
            )
            .bind(probed)
            .bind(printers)
            .bind(others)
            .bind(packets)
            .bind(id)
            .bind(now())
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn finish_scan(&self, id: i64, state: &str, error: &str) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("UPDATE scans SET state = $1, error = $2, finished_at = $3 WHERE id = $4")
                .bind(state)
                .bind(error)
                .bind(now())
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn cancel_scan(&self, id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE scans SET cancel = TRUE WHERE id = $1 AND state = 'running'")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    pub async fn scan(&self, id: i64) -> DbResult<ScanRow> {
        let sql = format!("SELECT {SCAN_COLUMNS} FROM scans WHERE id = $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, ScanRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn recent_scans(&self, limit: i64) -> DbResult<Vec<ScanRow>> {
        let sql = format!("SELECT {SCAN_COLUMNS} FROM scans ORDER BY id DESC LIMIT $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, ScanRow>(&sql)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Scans left `running` by a process that stopped (no heartbeat for a minute) are
    /// marked interrupted.
    pub async fn interrupt_stale_scans(&self) -> DbResult<u64> {
        let at = now();
        Ok(on_backend!(self, |pool| {
            sqlx::query("UPDATE scans SET state = 'interrupted', finished_at = $1 WHERE state = 'running' AND heartbeat < $2")
                .bind(at)
                .bind(at - 60)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
