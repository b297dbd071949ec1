//! Release credentials looked up by keyed hash: badges and personal passcodes.

use super::{Db, DbResult, UserRow, on_backend, touched};
use crate::clock::now;

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
