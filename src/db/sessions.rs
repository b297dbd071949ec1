//! Sessions live in the database so several server processes can share them.
//! Only a keyed hash of the session token is stored.

use super::{Db, DbResult, now, on_backend};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub kind: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

impl Db {
    pub async fn insert_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        kind: &str,
        expires_at: i64,
        client_addr: &str,
        user_agent: &str,
    ) -> DbResult<()> {
        let at = now();
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, kind, created_at, last_seen_at, expires_at, client_addr, user_agent) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(kind)
            .bind(at)
            .bind(expires_at)
            .bind(client_addr)
            .bind(user_agent)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The unexpired session of this kind with this hash; slides its expiry to
    /// `new_expiry` when given.
    pub async fn touch_session(
        &self,
        token_hash: &[u8],
        kind: &str,
        new_expiry: Option<i64>,
    ) -> DbResult<SessionRow> {
        let at = now();
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, SessionRow>(
                "UPDATE sessions SET last_seen_at = $1, expires_at = COALESCE($2, expires_at) \
                 WHERE token_hash = $3 AND expires_at > $1 AND kind = $4 \
                 RETURNING token_hash, user_id, kind, created_at, last_seen_at, expires_at",
            )
            .bind(at)
            .bind(new_expiry)
            .bind(token_hash)
            .bind(kind)
            .fetch_one(pool)
            .await?
        });
        Ok(row)
    }

    pub async fn delete_session(&self, token_hash: &[u8]) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_sessions_of(&self, user_id: i64) -> DbResult<u64> {
        let n = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n)
    }

    pub async fn delete_expired_sessions(&self) -> DbResult<u64> {
        let n = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n)
    }
}

/// A signed-in phone, as its owner sees it in the account page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceSessionRow {
    pub token_hash: Vec<u8>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: String,
}

impl Db {
    pub async fn sessions_of_kind(
        &self,
        user_id: i64,
        kind: &str,
    ) -> DbResult<Vec<DeviceSessionRow>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, DeviceSessionRow>(
                "SELECT token_hash, created_at, last_seen_at, expires_at, user_agent FROM sessions \
                 WHERE user_id = $1 AND kind = $2 AND expires_at > $3 ORDER BY last_seen_at DESC",
            )
            .bind(user_id)
            .bind(kind)
            .bind(now())
            .fetch_all(pool)
            .await?
        }))
    }

    /// Ends one of the user's sessions of this kind (a revoked phone).
    pub async fn delete_session_of(
        &self,
        user_id: i64,
        kind: &str,
        token_hash: &[u8],
    ) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND kind = $2 AND token_hash = $3")
                .bind(user_id)
                .bind(kind)
                .bind(token_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        super::touched(done)
    }
}
