//! The first run, claimed once: whether it is done, the keyed hashes of the setup
//! codes servers printed, the counter of wrong codes, and the one transaction that
//! uses up a code, closes the first run and creates the first admin.

use super::users::USER_COLUMNS;
use super::{AuditRecord, Db, DbError, DbResult, NewUser, UserRow, on_backend};
use crate::clock::now;

impl Db {
    /// True while the first run is open. An admin made another way (the CLI, an older
    /// version) closes it here for good, so deleting every admin later never reopens it.
    pub async fn first_run_open(&self) -> DbResult<bool> {
        let select = "SELECT done_at FROM first_run WHERE id = 1";
        let done: Option<Option<i64>> = on_backend!(self, |pool| {
            sqlx::query_scalar(select).fetch_optional(pool).await?
        });
        // No row at all would be a damaged database: stay closed (the CLI still works).
        if !matches!(done, Some(None)) {
            return Ok(false);
        }
        let closed = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE first_run SET done_at = $1 WHERE id = 1 AND done_at IS NULL \
                 AND EXISTS (SELECT 1 FROM users WHERE role = 'admin')",
            )
            .bind(now())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(closed == 0)
    }

    /// Keyed hashes of the setup codes that are valid now.
    pub async fn setup_code_hashes(&self) -> DbResult<Vec<Vec<u8>>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT code_hash FROM setup_codes")
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn insert_setup_code(&self, code_hash: &[u8]) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO setup_codes (code_hash, issued_at) VALUES ($1, $2) \
                 ON CONFLICT (code_hash) DO NOTHING",
            )
            .bind(code_hash)
            .bind(now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Counts one setup-code attempt before it is checked (so concurrent guesses all
    /// count), in a window of `window_secs`; returns the attempts in the window and
    /// when the window started.
    pub async fn count_setup_code_attempt(&self, window_secs: i64) -> DbResult<(i64, i64)> {
        let at = now();
        let row: (i64, i64) = on_backend!(self, |pool| {
            sqlx::query_as(
                "UPDATE first_run SET \
                 wrong_codes = CASE WHEN window_start <= $1 THEN 1 ELSE wrong_codes + 1 END, \
                 window_start = CASE WHEN window_start <= $1 THEN $2 ELSE window_start END \
                 WHERE id = 1 RETURNING wrong_codes, window_start",
            )
            .bind(at - window_secs)
            .bind(at)
            .fetch_one(pool)
            .await?
        });
        Ok(row)
    }

    /// A fresh window (a server start: only the operator can restart the server).
    pub async fn reset_setup_code_attempts(&self) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("UPDATE first_run SET wrong_codes = 0, window_start = 0 WHERE id = 1")
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Gives back the attempt counted for a right code.
    pub async fn refund_setup_code_attempt(&self) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE first_run SET wrong_codes = wrong_codes - 1 WHERE id = 1 AND wrong_codes > 0",
            )
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// In one transaction: closes the first run (only if still open), uses up the
    /// setup code (only if still valid) and every other one, creates the admin and
    /// writes the audit rows. `NotFound` when the run was closed or the code is gone —
    /// of N concurrent callers exactly one gets the admin.
    pub async fn complete_first_run(
        &self,
        code_hash: &[u8],
        admin: &NewUser<'_>,
        audit: &[AuditRecord<'_>],
    ) -> DbResult<UserRow> {
        let at = now();
        let insert_user = format!(
            "INSERT INTO users (username, email, name, department, role, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {USER_COLUMNS}"
        );
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let claimed =
                sqlx::query("UPDATE first_run SET done_at = $1 WHERE id = 1 AND done_at IS NULL")
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            if claimed.rows_affected() != 1 {
                return Err(DbError::NotFound);
            }
            let used = sqlx::query("DELETE FROM setup_codes WHERE code_hash = $1")
                .bind(code_hash)
                .execute(&mut *tx)
                .await?;
            if used.rows_affected() != 1 {
                return Err(DbError::NotFound);
            }
            sqlx::query("DELETE FROM setup_codes")
                .execute(&mut *tx)
                .await?;
            let user = sqlx::query_as::<_, UserRow>(&insert_user)
                .bind(admin.username)
                .bind(admin.email)
                .bind(admin.name)
                .bind(admin.department)
                .bind(admin.role)
                .bind(admin.password_hash)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
            for record in audit {
                sqlx::query(
                    "INSERT INTO audit_log (at, actor_id, actor, action, target, outcome, client_addr, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(at)
                .bind(Some(user.id))
                .bind(&user.username)
                .bind(record.action)
                .bind(record.target)
                .bind(record.outcome)
                .bind(record.client_addr)
                .bind(record.detail)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(user)
        })
    }
}
