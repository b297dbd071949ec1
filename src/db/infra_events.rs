//! The ippget side of IPP INFRA: output devices' subscriptions to their printer's
//! events, and the events themselves. Written in the transaction of the state change
//! that causes them (a release becomes fetchable), read by Get-Notifications.

use super::{Db, DbResult, on_backend, touched};
use crate::clock::now;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub subscription_id: i64,
    pub seq: i64,
    pub event: String,
    pub release_id: Option<i64>,
    pub job_state: Option<i64>,
    pub created_at: i64,
}

/// Writes `event` for release `release` into every subscription to `printer` that
/// asked for it, with the next sequence number of each — in the caller's transaction.
macro_rules! emit_event {
    ($tx:expr, $printer:expr, $release:expr, $event:expr, $job_state:expr, $at:expr) => {{
        let subscriptions: Vec<(i64, i64)> = sqlx::query_as(
            "UPDATE infra_subscriptions SET next_seq = next_seq + 1 \
             WHERE printer_id = $1 AND (',' || events || ',') LIKE $2 RETURNING id, next_seq - 1",
        )
        .bind($printer)
        .bind(format!("%,{},%", $event))
        .fetch_all(&mut *$tx)
        .await?;
        for (subscription, seq) in subscriptions {
            sqlx::query(
                "INSERT INTO infra_events (subscription_id, seq, event, release_id, job_state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(subscription)
            .bind(seq)
            .bind($event)
            .bind($release)
            .bind($job_state)
            .bind($at)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(crate) use emit_event;

/// IPP job-state of a fetchable job: processing-stopped (with reason job-fetchable).
pub const FETCHABLE_JOB_STATE: i64 = 6;

impl Db {
    pub async fn create_infra_subscription(
        &self,
        device_id: i64,
        printer_id: i64,
        events: &str,
    ) -> DbResult<i64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO infra_subscriptions (device_id, printer_id, events, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(device_id)
            .bind(printer_id)
            .bind(events)
            .bind(now())
            .fetch_one(pool)
            .await?
        }))
    }

    /// Ends one of the device's subscriptions.
    pub async fn cancel_infra_subscription(&self, id: i64, device_id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM infra_subscriptions WHERE id = $1 AND device_id = $2")
                .bind(id)
                .bind(device_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    /// Whether the subscription exists and is this device's.
    pub async fn infra_subscription_of(&self, id: i64, device_id: i64) -> DbResult<bool> {
        let found: Option<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM infra_subscriptions WHERE id = $1 AND device_id = $2",
            )
            .bind(id)
            .bind(device_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }

    /// Events of a subscription from sequence number `from` on, oldest first.
    pub async fn infra_events(
        &self,
        subscription_id: i64,
        from: i64,
        limit: i64,
    ) -> DbResult<Vec<EventRow>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, EventRow>(
                "SELECT subscription_id, seq, event, release_id, job_state, created_at FROM infra_events \
                 WHERE subscription_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(subscription_id)
            .bind(from)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Changes whenever any event is written or a subscription comes or goes: a cheap
    /// test for "something new" across server processes.
    pub async fn infra_event_marker(&self) -> DbResult<i64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT CAST(COALESCE(SUM(next_seq), 0) + COUNT(*) * 1000003 AS BIGINT) FROM infra_subscriptions",
            )
            .fetch_one(pool)
            .await?
        }))
    }

    /// Forgets events older than `before` (a device that was away that long starts
    /// again with Get-Jobs).
    pub async fn purge_infra_events(&self, before: i64) -> DbResult<u64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query("DELETE FROM infra_events WHERE created_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
