//! Sessions live in the database so several server processes can share them.
//! Only a keyed hash of the session token is stored. Each has an idle expiry that use
//! slides and an absolute end that nothing moves.

use super::{Db, DbResult, on_backend};
use crate::clock::now;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub kind: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub absolute_expires_at: i64,
}

/// The longest any session lives (a phone's): the absolute end of sessions opened
/// without one.
pub const LONGEST_SESSION_SECS: i64 = 90 * 24 * 3600;

impl Db {
    /// Opens a session with the longest absolute end; see [`Db::insert_session_until`].
    pub async fn insert_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        kind: &str,
        expires_at: i64,
        client_addr: &str,
        user_agent: &str,
    ) -> DbResult<()> {
        let absolute = now() + LONGEST_SESSION_SECS;
        self.insert_session_until(
            token_hash,
            user_id,
            kind,
            (expires_at, absolute),
            client_addr,
            user_agent,
        )
        .await
    }

    /// Opens a session idle-expiring at `ends.0` and ending at `ends.1` whatever its
    /// use (the idle expiry is cut to it).
    pub async fn insert_session_until(
        &self,
        token_hash: &[u8],
        user_id: i64,
        kind: &str,
        ends: (i64, i64),
        client_addr: &str,
        user_agent: &str,
    ) -> DbResult<()> {
        let at = now();
        let (idle, absolute) = ends;
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, kind, created_at, last_seen_at, expires_at, absolute_expires_at, client_addr, user_agent) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(kind)
            .bind(at)
            .bind(idle.min(absolute))
            .bind(absolute)
            .bind(client_addr)
            .bind(user_agent)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The unexpired session of this kind with this hash; slides its expiry to
    /// `new_expiry` when given, never past the session's absolute end.
    pub async fn touch_session(
        &self,
        token_hash: &[u8],
        kind: &str,
        new_expiry: Option<i64>,
    ) -> DbResult<SessionRow> {
        let at = now();
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, SessionRow>(
                "UPDATE sessions SET last_seen_at = $1, expires_at = CASE \
                 WHEN COALESCE($2, expires_at) < absolute_expires_at THEN COALESCE($2, expires_at) \
                 ELSE absolute_expires_at END \
                 WHERE token_hash = $3 AND expires_at > $1 AND absolute_expires_at > $1 AND kind = $4 \
                 RETURNING token_hash, user_id, kind, created_at, last_seen_at, expires_at, absolute_expires_at",
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

    /// Ends every session of the user except the one with `keep` (the browser that
    /// changed a credential); returns how many ended.
    pub async fn delete_other_sessions_of(
        &self,
        user_id: i64,
        keep: Option<&[u8]>,
    ) -> DbResult<u64> {
        let keep = keep.unwrap_or_default();
        let n = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user_id)
                .bind(keep)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n)
    }

    pub async fn delete_expired_sessions(&self) -> DbResult<u64> {
        let n = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR absolute_expires_at <= $1")
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
    pub absolute_expires_at: i64,
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
                "SELECT token_hash, created_at, last_seen_at, expires_at, absolute_expires_at, user_agent FROM sessions \
                 WHERE user_id = $1 AND kind = $2 AND expires_at > $3 AND absolute_expires_at > $3 \
                 ORDER BY last_seen_at DESC",
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
