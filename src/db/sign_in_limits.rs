//! Sign-in limits: one counter per limit an attempt counts against (an account's
//! password, an account's PIN, a source address, a station seen from one address, a
//! station as a whole), kept in `login_failures`, and the addresses that signed
//! someone in at a printer (`station_sign_ins`).
//!
//! An attempt is reserved (`pending`) *before* its secret is checked, in one statement
//! that also says whether it may go ahead: failures plus attempts in flight never pass
//! the threshold, so however many arrive at once no more than the threshold are
//! evaluated. Its outcome then turns the reservation into a failure (which locks the
//! key from the threshold on, for `base × 2^(failures − threshold)`, capped), clears
//! the failures (a success on the prover's own counter), or just gives it back.
//!
//! A wrong credential just tried is a row too, `repeat:<keyed hash>` with only
//! `last_failure` set (no failures, never locked): a client's retries of it within a
//! few seconds are not counted again. The stale sweep forgets these rows as it does
//! counters.

use super::{Db, DbResult, on_backend};
use crate::clock::now;

/// How a limit locks: after `threshold` failures, for `base_secs` doubling with each
/// further one, at most `max_secs`. Failures whose last one is older than
/// `window_secs` are forgotten.
#[derive(Debug, Clone, Copy)]
pub struct LockRule {
    pub threshold: i64,
    pub base_secs: i64,
    pub max_secs: i64,
    pub window_secs: i64,
}

impl LockRule {
    /// The lock `failures` failures carry (0: none), as the SQL computes it.
    pub fn lock_secs(&self, failures: i64) -> i64 {
        if failures < self.threshold {
            return 0;
        }
        let doublings = (failures - self.threshold).min(20) as u32;
        self.base_secs
            .saturating_mul(1 << doublings)
            .min(self.max_secs)
    }
}

/// The outcome of reserving an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Go ahead; the attempt is pending until its outcome is recorded.
    Allowed,
    /// Locked until this time by failures; nothing was reserved.
    Locked { locked_until: i64 },
    /// As many attempts as may still fail are being checked right now; nothing was
    /// reserved. Ask again shortly.
    Busy,
}

/// A failure as recorded: the count since the last success, and the lock (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub failures: i64,
    pub locked_until: i64,
}

/// A reservation older than this is a crashed attempt's and no longer counts.
const PENDING_STALE_SECS: i64 = 60;

/// `base << min(f − threshold, 20)` capped at `max`, with `f` the count after this
/// failure ($3 base, $4 max, $5 threshold); both dialects run it.
fn lock_secs_sql(f: &str) -> String {
    let shifted = format!(
        "(CAST($3 AS BIGINT) << CAST((CASE WHEN {f} - $5 > 20 THEN 20 ELSE {f} - $5 END) AS INTEGER))"
    );
    format!("(CASE WHEN {shifted} > $4 THEN $4 ELSE {shifted} END)")
}

/// The failures still counted: none once the last is older than the window ($w).
fn live_failures_sql(w: &str) -> String {
    format!(
        "(CASE WHEN login_failures.last_failure < $2 - {w} THEN 0 ELSE login_failures.failures END)"
    )
}

impl Db {
    /// Reserves one attempt against `key` unless it is locked or as many attempts as
    /// may still fail are in flight. Atomic: concurrent callers serialise on the row.
    pub async fn reserve_sign_in_attempt(
        &self,
        key: &str,
        rule: LockRule,
    ) -> DbResult<Reservation> {
        let at = now();
        // Reservations of attempts that never finished (a crash) stop counting.
        let pending = format!(
            "(CASE WHEN login_failures.last_attempt < $2 - {PENDING_STALE_SECS} THEN 0 ELSE login_failures.pending END)"
        );
        let failures = live_failures_sql("$4");
        let sql = format!(
            "INSERT INTO login_failures (login, failures, pending, locked_until, last_failure, last_attempt) VALUES ($1, 0, 1, 0, 0, $2) \
             ON CONFLICT (login) DO UPDATE SET pending = {pending} + 1, last_attempt = $2, failures = {failures} \
             WHERE login_failures.locked_until <= $2 \
             AND ({failures} + {pending} < $3 OR ({failures} >= $3 AND {pending} = 0)) \
             RETURNING pending"
        );
        let row: Option<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar(&sql)
                .bind(key)
                .bind(at)
                .bind(rule.threshold)
                .bind(rule.window_secs)
                .fetch_optional(pool)
                .await?
        });
        if row.is_some() {
            return Ok(Reservation::Allowed);
        }
        match self.login_failure(key).await? {
            Some(r) if r.locked_until > at => Ok(Reservation::Locked {
                locked_until: r.locked_until,
            }),
            _ => Ok(Reservation::Busy),
        }
    }

    /// A reserved attempt failed: it becomes a failure, and from the threshold on the
    /// key is locked in the same statement.
    pub async fn fail_sign_in_attempt(&self, key: &str, rule: LockRule) -> DbResult<Failure> {
        let at = now();
        let first_lock = match rule.lock_secs(1) {
            0 => 0,
            secs => at + secs,
        };
        let after = format!("({} + 1)", live_failures_sql("$7"));
        let lock = lock_secs_sql(&after);
        let sql = format!(
            "INSERT INTO login_failures (login, failures, pending, locked_until, last_failure, last_attempt) VALUES ($1, 1, 0, $6, $2, $2) \
             ON CONFLICT (login) DO UPDATE SET failures = {after}, \
             pending = CASE WHEN login_failures.pending > 0 THEN login_failures.pending - 1 ELSE 0 END, \
             last_failure = $2, \
             locked_until = CASE WHEN {after} >= $5 THEN $2 + {lock} ELSE login_failures.locked_until END \
             RETURNING failures, locked_until"
        );
        let (failures, locked_until): (i64, i64) = on_backend!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(key)
                .bind(at)
                .bind(rule.base_secs)
                .bind(rule.max_secs)
                .bind(rule.threshold)
                .bind(first_lock)
                .bind(rule.window_secs)
                .fetch_one(pool)
                .await?
        });
        Ok(Failure {
            failures,
            locked_until: if locked_until > at { locked_until } else { 0 },
        })
    }

    /// A reserved attempt ends without failing. `clear`: it proved the secret this
    /// counter belongs to, so the failures go too (and any lock); otherwise (a shared
    /// counter, or an attempt refused elsewhere) only the reservation is given back.
    pub async fn end_sign_in_attempt(&self, key: &str, clear: bool) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE login_failures SET \
                 pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END, \
                 failures = CASE WHEN $2 THEN 0 ELSE failures END, \
                 locked_until = CASE WHEN $2 THEN 0 ELSE locked_until END \
                 WHERE login = $1",
            )
            .bind(key)
            .bind(clear)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Notes a wrong credential (its keyed hash is `key`). False when the same one was
    /// noted less than `window_secs` ago: a retry, or a copy of the same request
    /// checked alongside, which does not count again. Atomic, as a reservation is.
    pub async fn note_failed_secret(&self, key: &str, window_secs: i64) -> DbResult<bool> {
        let row: Option<String> = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO login_failures (login, failures, pending, locked_until, last_failure, last_attempt) \
                 VALUES ($1, 0, 0, 0, $2, $2) \
                 ON CONFLICT (login) DO UPDATE SET last_failure = $2, last_attempt = $2 \
                 WHERE login_failures.last_failure < $2 - $3 \
                 RETURNING login",
            )
            .bind(key)
            .bind(now())
            .bind(window_secs)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.is_some())
    }

    /// True when the wrong credential `key` was noted at `since` or later.
    pub async fn failed_secret_since(&self, key: &str, since: i64) -> DbResult<bool> {
        let found: Option<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "SELECT last_failure FROM login_failures WHERE login = $1 AND last_failure >= $2",
            )
            .bind(key)
            .bind(since)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }

    /// Notes that `addr` signed someone in at this printer.
    pub async fn record_station_sign_in(&self, printer_guid: &str, addr: &str) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO station_sign_ins (printer_guid, client_addr, last_success) VALUES ($1, $2, $3) \
                 ON CONFLICT (printer_guid, client_addr) DO UPDATE SET last_success = $3",
            )
            .bind(printer_guid)
            .bind(addr)
            .bind(now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// True when `addr` signed someone in at this printer since `since`.
    pub async fn signed_in_at_station_since(
        &self,
        printer_guid: &str,
        addr: &str,
        since: i64,
    ) -> DbResult<bool> {
        let found: Option<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "SELECT last_success FROM station_sign_ins \
                 WHERE printer_guid = $1 AND client_addr = $2 AND last_success >= $3",
            )
            .bind(printer_guid)
            .bind(addr)
            .bind(since)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }

    /// Forgets station sign-ins older than `before`.
    pub async fn delete_stale_station_sign_ins(&self, before: i64) -> DbResult<u64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query("DELETE FROM station_sign_ins WHERE last_success < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::LockRule;

    #[test]
    fn locks_start_at_the_threshold_double_and_stop_at_the_cap() {
        let rule = LockRule {
            threshold: 5,
            base_secs: 60,
            max_secs: 3600,
            window_secs: 900,
        };
        assert_eq!(rule.lock_secs(4), 0);
        assert_eq!(rule.lock_secs(5), 60);
        assert_eq!(rule.lock_secs(6), 120);
        assert_eq!(rule.lock_secs(11), 3600);
        assert_eq!(rule.lock_secs(500), 3600);
    }
}
