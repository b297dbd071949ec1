//! Release credentials looked up by keyed hash: badges and personal passcodes.

use super::{Db, DbResult, UserRow, on_backend, touched};
use crate::clock::now;

/// One linked badge: its keyed hash (never the number) and when it was used.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BadgeRow {
    pub badge_hash: Vec<u8>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl Db {
    /// Links a badge to a user. A badge already linked to anyone is a conflict.
    pub async fn insert_badge(&self, badge_hash: &[u8], user_id: i64) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("INSERT INTO badges (badge_hash, user_id, created_at) VALUES ($1, $2, $3)")
                .bind(badge_hash)
                .bind(user_id)
                .bind(now())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The user a badge belongs to, noting its use.
    pub async fn user_by_badge(&self, badge_hash: &[u8]) -> DbResult<UserRow> {
        let user_id: i64 = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "UPDATE badges SET last_used_at = $1 WHERE badge_hash = $2 RETURNING user_id",
            )
            .bind(now())
            .bind(badge_hash)
            .fetch_one(pool)
            .await?
        });
        self.user_by_id(user_id).await
    }

    pub async fn count_badges_of(&self, user_id: i64) -> DbResult<i64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM badges WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn delete_badges_of(&self, user_id: i64) -> DbResult<u64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query("DELETE FROM badges WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// A user's badges (keyed hashes only), oldest first.
    pub async fn badges_of(&self, user_id: i64) -> DbResult<Vec<BadgeRow>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, BadgeRow>(
                "SELECT badge_hash, created_at, last_used_at FROM badges WHERE user_id = $1 \
                 ORDER BY created_at, badge_hash",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Removes one badge of this user (by its keyed hash).
    pub async fn delete_badge_of(&self, user_id: i64, badge_hash: &[u8]) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM badges WHERE user_id = $1 AND badge_hash = $2")
                .bind(user_id)
                .bind(badge_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    /// Who holds this badge, without noting a use.
    pub async fn badge_owner(&self, badge_hash: &[u8]) -> DbResult<Option<i64>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar::<_, i64>("SELECT user_id FROM badges WHERE badge_hash = $1")
                .bind(badge_hash)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Who holds each badge (keyed hash → user id), for planning an import.
    pub async fn badge_owners(&self) -> DbResult<Vec<(Vec<u8>, i64)>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, (Vec<u8>, i64)>("SELECT badge_hash, user_id FROM badges")
                .fetch_all(pool)
                .await?
        }))
    }

    /// Sets (or clears, with `None`) a user's release passcode hash.
    pub async fn set_passcode_hash(&self, user_id: i64, hash: Option<&[u8]>) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE users SET passcode_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(now())
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    pub async fn user_by_passcode(&self, hash: &[u8]) -> DbResult<UserRow> {
        let user_id: i64 = on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM users WHERE passcode_hash = $1")
                .bind(hash)
                .fetch_one(pool)
                .await?
        });
        self.user_by_id(user_id).await
    }

    pub async fn has_passcode(&self, user_id: i64) -> DbResult<bool> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar::<_, bool>(
                "SELECT passcode_hash IS NOT NULL FROM users WHERE id = $1",
            )
            .bind(user_id)
            .fetch_one(pool)
            .await?
        }))
    }
}
