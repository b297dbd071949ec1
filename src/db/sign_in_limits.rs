//! Sign-in limits: one counter per limit an attempt counts against (an account's
//! password, an account's PIN, a source address, a station seen from one address, a
//! station as a whole), kept in `login_failures`, and the addresses that signed
//! someone in at a printer (`station_sign_ins`).
//!
//! An attempt is counted *before* its secret is checked, in one statement that also
//! says whether it may go ahead, so a burst of concurrent attempts can never get more
//! than the threshold evaluated: the attempt that reaches the threshold locks the key
//! at once, for as long as its failure would (`base × 2^(count − threshold)`, capped);
//! a success then clears (or releases) what it reserved.

use super::{Db, DbResult, now, on_backend};

/// How a limit locks: after `threshold` counted attempts, for `base_secs` doubling
/// with each further one, at most `max_secs`.
#[derive(Debug, Clone, Copy)]
pub struct LockRule {
    pub threshold: i64,
    pub base_secs: i64,
    pub max_secs: i64,
}

impl LockRule {
    /// The lock a counter of `count` attempts carries (0: none), as the SQL computes it.
    pub fn lock_secs(&self, count: i64) -> i64 {
        if count < self.threshold {
            return 0;
        }
        let doublings = (count - self.threshold).min(20) as u32;
        self.base_secs
            .saturating_mul(1 << doublings)
            .min(self.max_secs)
    }
}

/// The outcome of reserving an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Go ahead; this is attempt `count` since the last success. `locked_until` is set
    /// (in the future) when this attempt reached the threshold and locked the key.
    Allowed { count: i64, locked_until: i64 },
    /// Locked until this time; nothing was counted.
    Refused { locked_until: i64 },
}

/// `base << min(n, 20)` capped at `max`, in SQL both dialects run (`n` = attempts past
/// the threshold, after this one).
const LOCK_SECS_SQL: &str = "(CASE WHEN (CAST($5 AS BIGINT) << CAST((CASE WHEN login_failures.failures + 1 - $4 > 20 THEN 20 ELSE login_failures.failures + 1 - $4 END) AS INTEGER)) > $6 \
     THEN $6 ELSE (CAST($5 AS BIGINT) << CAST((CASE WHEN login_failures.failures + 1 - $4 > 20 THEN 20 ELSE login_failures.failures + 1 - $4 END) AS INTEGER)) END)";

impl Db {
    /// Counts one attempt against `key` unless it is locked; locks it at once when
    /// this attempt reaches the threshold. Atomic: concurrent callers are serialised
    /// on the row, each sees the others' counts.
    pub async fn reserve_sign_in_attempt(
        &self,
        key: &str,
        rule: LockRule,
    ) -> DbResult<Reservation> {
        let at = now();
        let first_lock = match rule.lock_secs(1) {
            0 => 0,
            secs => at + secs,
        };
        let sql = format!(
            "INSERT INTO login_failures (login, failures, locked_until, last_failure) VALUES ($1, 1, $2, $3) \
             ON CONFLICT (login) DO UPDATE SET failures = login_failures.failures + 1, last_failure = $3, \
             locked_until = CASE WHEN login_failures.failures + 1 >= $4 THEN $3 + {LOCK_SECS_SQL} ELSE login_failures.locked_until END \
             WHERE login_failures.locked_until <= $3 \
             RETURNING failures, locked_until"
        );
        let row: Option<(i64, i64)> = on_backend!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(key)
                .bind(first_lock)
                .bind(at)
                .bind(rule.threshold)
                .bind(rule.base_secs)
                .bind(rule.max_secs)
                .fetch_optional(pool)
                .await?
        });
        if let Some((count, locked_until)) = row {
            return Ok(Reservation::Allowed {
                count,
                locked_until: if locked_until > at { locked_until } else { 0 },
            });
        }
        // Refused: the row exists and is locked. Reading when is only for the answer.
        let locked_until = self
            .login_failure(key)
            .await?
            .map(|r| r.locked_until)
            .unwrap_or(at + 1);
        Ok(Reservation::Refused {
            locked_until: locked_until.max(at + 1),
        })
    }

    /// Takes back one reserved attempt (a success on a shared counter, or an attempt
    /// refused by another limit). Below the threshold the key is unlocked; at or above
    /// it, only the lock this attempt itself set (`own_lock`) is lifted.
    pub async fn release_sign_in_attempt(
        &self,
        key: &str,
        threshold: i64,
        own_lock: i64,
    ) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE login_failures SET failures = failures - 1, \
                 locked_until = CASE WHEN failures - 1 < $2 THEN 0 \
                 WHEN $3 > 0 AND locked_until = $3 THEN 0 ELSE locked_until END \
                 WHERE login = $1 AND failures > 0",
            )
            .bind(key)
            .bind(threshold)
            .bind(own_lock)
            .execute(pool)
            .await?;
        });
        Ok(())
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
        };
        assert_eq!(rule.lock_secs(4), 0);
        assert_eq!(rule.lock_secs(5), 60);
        assert_eq!(rule.lock_secs(6), 120);
        assert_eq!(rule.lock_secs(11), 3600);
        assert_eq!(rule.lock_secs(500), 3600);
    }
}
