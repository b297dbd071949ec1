//! E-mail and password reset: the mail relay as the admin page stores it, the reset
//! links (keyed hashes of their tokens, used once), and the counters that keep anyone
//! from flooding a mailbox with reset mails.

use super::{Db, DbError, DbResult, on_backend};

/// The relay as the admin page set it (the one row of `smtp_settings`).
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct SmtpSettingsRow {
    /// Empty: no relay set on the page.
    pub host: String,
    pub port: i64,
    /// `start_tls`, `tls` or `insecure_plain` (parsed above this room).
    pub security: String,
    pub username: String,
    /// Sealed by the vault; `None` = no password.
    pub password: Option<Vec<u8>>,
    pub sender: String,
    /// PEM of a CA to trust; empty = the system's.
    pub ca_pem: String,
    pub timeout_secs: i64,
    pub updated_at: i64,
}

/// What a reset link's use did.
#[derive(Debug, Clone, Copy)]
pub struct ResetDone {
    pub user_id: i64,
    /// Sessions of the person that were ended.
    pub sessions_ended: u64,
}

impl Db {
    pub async fn smtp_settings(&self) -> DbResult<SmtpSettingsRow> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, SmtpSettingsRow>(
                "SELECT host, port, security, username, password, sender, ca_pem, timeout_secs, updated_at \
                 FROM smtp_settings WHERE id = 1",
            )
            .fetch_one(pool)
            .await?
        }))
    }

    /// Saves the page's relay. `password`: `Some` replaces the sealed password (`Some(None)`
    /// removes it), `None` keeps the stored one.
    pub async fn save_smtp_settings(
        &self,
        s: &SmtpSettingsRow,
        password: Option<Option<&[u8]>>,
    ) -> DbResult<()> {
        let replace = password.is_some();
        let sealed = password.flatten();
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE smtp_settings SET host = $1, port = $2, security = $3, username = $4, \
                 sender = $5, ca_pem = $6, timeout_secs = $7, updated_at = $8, \
                 password = CASE WHEN $9 THEN $10 ELSE password END WHERE id = 1",
            )
            .bind(&s.host)
            .bind(s.port)
            .bind(&s.security)
            .bind(&s.username)
            .bind(&s.sender)
            .bind(&s.ca_pem)
            .bind(s.timeout_secs)
            .bind(s.updated_at)
            .bind(replace)
            .bind(sealed)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Counts one reset mail asked for under `key`, unless `max` were already asked
    /// for in the window that began after `window_start_after`: one statement, so
    /// concurrent requests cannot both slip under the limit. True = allowed.
    pub async fn count_mail_request(
        &self,
        key: &str,
        at: i64,
        window_start_after: i64,
        max: i64,
    ) -> DbResult<bool> {
        let counted: Option<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO mail_request_counters (key, window_start, count) VALUES ($1, $2, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                   count = CASE WHEN mail_request_counters.window_start <= $3 THEN 1 \
                                ELSE mail_request_counters.count + 1 END, \
                   window_start = CASE WHEN mail_request_counters.window_start <= $3 THEN $2 \
                                ELSE mail_request_counters.window_start END \
                 WHERE mail_request_counters.window_start <= $3 OR mail_request_counters.count < $4 \
                 RETURNING count",
            )
            .bind(key)
            .bind(at)
            .bind(window_start_after)
            .bind(max)
            .fetch_optional(pool)
            .await?
        });
        Ok(counted.is_some())
    }

    /// Stores a new reset link's keyed hash.
    pub async fn insert_reset_token(
        &self,
        token_hash: &[u8],
        user_id: i64,
        at: i64,
        expires_at: i64,
    ) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO password_reset_tokens (token_hash, user_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(at)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The person a reset link is for, while it is unused and not expired (the page
    /// that asks for the new password; nothing is consumed).
    pub async fn reset_token_user(&self, token_hash: &[u8], at: i64) -> DbResult<i64> {
        let user: Option<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "SELECT user_id FROM password_reset_tokens \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(at)
            .fetch_optional(pool)
            .await?
        });
        user.ok_or(DbError::NotFound)
    }

    /// Uses a reset link, in one transaction: the link is consumed (once: a conditional
    /// UPDATE), the person's password replaced and `must_change_password` cleared, their
    /// other links voided and all their sessions ended. A link that is used, expired,
    /// or whose person is disabled or now managed by the directory changes nothing
    /// (`NotFound`).
    pub async fn reset_password_with_token(
        &self,
        token_hash: &[u8],
        password_hash: &str,
        at: i64,
    ) -> DbResult<ResetDone> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let user_id: Option<i64> = sqlx::query_scalar(
                "UPDATE password_reset_tokens SET used_at = $2 \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
            )
            .bind(token_hash)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(user_id) = user_id else {
                return Err(DbError::NotFound);
            };
            let changed = sqlx::query(
                "UPDATE users SET password_hash = $1, must_change_password = FALSE, updated_at = $2 \
                 WHERE id = $3 AND disabled = FALSE AND source <> 'ldap'",
            )
            .bind(password_hash)
            .bind(at)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() != 1 {
                return Err(DbError::NotFound);
            }
            sqlx::query(
                "UPDATE password_reset_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
            )
            .bind(user_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(ResetDone {
                user_id,
                sessions_ended: ended,
            })
        })
    }

    /// Forgets reset links and request counters older than `before`.
    pub async fn delete_stale_mail_rows(&self, before: i64) -> DbResult<u64> {
        let n = on_backend!(self, |pool| {
            let links = sqlx::query("DELETE FROM password_reset_tokens WHERE expires_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected();
            let counters = sqlx::query("DELETE FROM mail_request_counters WHERE window_start < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected();
            links + counters
        });
        Ok(n)
    }
}
