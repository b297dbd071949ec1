//! The storage quota's ledger: reservations of uploads in flight, counted with the
//! owner's unfinished jobs, so two uploads cannot both take a user's last place or
//! last bytes (each decision is one conditional statement).

use super::{Db, DbResult, on_backend};

/// The per-user caps of the storage quota.
#[derive(Debug, Clone, Copy)]
pub struct UsageCaps {
    pub bytes: i64,
    pub jobs: i64,
}

/// A reservation not touched for this long is a crash's leftover: it stops counting.
pub const RESERVATION_STALE_SECS: i64 = 3600;

/// Bytes the user in placeholder `owner` stores: documents of unfinished jobs the
/// server keeps, plus reservations updated after placeholder `fresh_after`.
fn bytes_used(owner: &str, fresh_after: &str) -> String {
    format!(
        "(CAST((SELECT COALESCE(SUM(j.size_bytes), 0) FROM jobs j WHERE j.owner_id = {owner} \
           AND j.state IN ('incoming', 'held', 'releasing', 'needs-attention') AND j.held_by_agent IS NULL) AS BIGINT) \
         + CAST((SELECT COALESCE(SUM(r.bytes), 0) FROM intake_reservations r \
           WHERE r.user_id = {owner} AND r.updated_at > {fresh_after}) AS BIGINT))"
    )
}

/// Unfinished jobs of the user in placeholder `owner`, plus job places of
/// reservations updated after placeholder `fresh_after`.
fn jobs_used(owner: &str, fresh_after: &str) -> String {
    format!(
        "(CAST((SELECT COUNT(*) FROM jobs j WHERE j.owner_id = {owner} \
           AND j.state IN ('incoming', 'held', 'releasing', 'needs-attention')) AS BIGINT) \
         + CAST((SELECT COALESCE(SUM(r.jobs), 0) FROM intake_reservations r \
           WHERE r.user_id = {owner} AND r.updated_at > {fresh_after}) AS BIGINT))"
    )
}

/// Serialises quota decisions of one user on Postgres (SQLite runs one writer at a
/// time already). `NO KEY UPDATE` leaves inserts that reference the user unblocked.
async fn lock_owner_pg(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, owner: i64) -> DbResult<()> {
    sqlx::query("SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .bind(owner)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(())
}

impl Db {
    // --- storage quota: reservations of uploads in flight -------------------------------

    /// Opens an intake reservation for `owner` taking `jobs` job places (0 or 1) and no
    /// bytes yet, unless the owner's unfinished jobs plus live reservations would then
    /// pass `caps.jobs`. `None` = refused. One conditional statement; on Postgres under
    /// the owner's row lock so two uploads cannot both take the last place.
    pub async fn open_reservation(
        &self,
        owner: i64,
        jobs: i64,
        caps: &UsageCaps,
        at: i64,
    ) -> DbResult<Option<i64>> {
        let sql = format!(
            "INSERT INTO intake_reservations (user_id, bytes, jobs, updated_at) \
             SELECT $1, 0, $2, $3 WHERE $2 = 0 OR {used} + $2 <= $4 RETURNING id",
            used = jobs_used("$1", "$5")
        );
        let stale = at - RESERVATION_STALE_SECS;
        Ok(match self {
            Db::Sqlite(pool) => {
                sqlx::query_scalar::<_, i64>(&sql)
                    .bind(owner)
                    .bind(jobs)
                    .bind(at)
                    .bind(caps.jobs)
                    .bind(stale)
                    .fetch_optional(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                lock_owner_pg(&mut tx, owner).await?;
                let id = sqlx::query_scalar::<_, i64>(&sql)
                    .bind(owner)
                    .bind(jobs)
                    .bind(at)
                    .bind(caps.jobs)
                    .bind(stale)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                id
            }
        })
    }

    /// Grows reservation `id` of `owner` by up to `want` bytes: all of them while the
    /// owner's usage stays within `caps.bytes`, else what is left. Returns the
    /// reservation's bytes after, or `None` when nothing is left.
    pub async fn grow_reservation(
        &self,
        id: i64,
        owner: i64,
        want: i64,
        caps: &UsageCaps,
        at: i64,
    ) -> DbResult<Option<i64>> {
        let sql = format!(
            "UPDATE intake_reservations SET \
               bytes = bytes + CASE WHEN {used} + $2 <= $3 THEN $2 ELSE $3 - {used} END, \
               updated_at = $4 \
             WHERE id = $1 AND {used} < $3 RETURNING bytes",
            used = bytes_used("$5", "$6")
        );
        let stale = at - RESERVATION_STALE_SECS;
        Ok(match self {
            Db::Sqlite(pool) => {
                sqlx::query_scalar::<_, i64>(&sql)
                    .bind(id)
                    .bind(want)
                    .bind(caps.bytes)
                    .bind(at)
                    .bind(owner)
                    .bind(stale)
                    .fetch_optional(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                lock_owner_pg(&mut tx, owner).await?;
                let bytes = sqlx::query_scalar::<_, i64>(&sql)
                    .bind(id)
                    .bind(want)
                    .bind(caps.bytes)
                    .bind(at)
                    .bind(owner)
                    .bind(stale)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                bytes
            }
        })
    }

    /// Ends a reservation whose upload failed (nothing was indexed).
    pub async fn drop_reservation(&self, id: i64) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("DELETE FROM intake_reservations WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Deletes reservations a crash left behind (stale ones no longer count anyway).
    pub async fn sweep_stale_reservations(&self, at: i64) -> DbResult<u64> {
        let n = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM intake_reservations WHERE updated_at <= $1")
                .bind(at - RESERVATION_STALE_SECS)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n)
    }

    /// (bytes, jobs) a user holds now: unfinished jobs plus live reservations.
    pub async fn usage_of(&self, owner: i64, at: i64) -> DbResult<(i64, i64)> {
        let sql = format!(
            "SELECT {}, {}",
            bytes_used("$1", "$2"),
            jobs_used("$1", "$2")
        );
        let row: (i64, i64) = on_backend!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(owner)
                .bind(at - RESERVATION_STALE_SECS)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }
}
