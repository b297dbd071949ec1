//! Single sign-on (OpenID Connect): the providers an admin adds on the page, the
//! sign-ins on their way through a provider (consumed once, atomically), the links
//! from a provider's subject to a person, and the sessions single sign-on opened.

use super::users::USER_COLUMNS;
use super::{Db, DbResult, UserRow, on_backend, touched};
use crate::clock::now;

/// A provider as stored by the admin page (its client secret sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OidcProviderRow {
    pub id: i64,
    pub name: String,
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret_sealed: Option<Vec<u8>>,
    pub ca_file: Option<String>,
    /// `email` or `preferred_username`.
    pub match_claim: String,
    pub create_users: bool,
    pub groups_claim: String,
    /// One group per line.
    pub admin_groups: String,
    /// Space-separated.
    pub scopes: String,
    pub trust_unverified_email: bool,
    /// Space-separated; empty = any.
    pub allowed_domains: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What the page saves for a provider. `client_secret_sealed: None` keeps the stored one
/// on an update.
#[derive(Debug, Clone)]
pub struct OidcProviderFields<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret_sealed: Option<&'a [u8]>,
    pub ca_file: Option<&'a str>,
    pub match_claim: &'a str,
    pub create_users: bool,
    pub groups_claim: &'a str,
    pub admin_groups: &'a str,
    pub scopes: &'a str,
    pub trust_unverified_email: bool,
    pub allowed_domains: &'a str,
}

/// A pending sign-in as its callback finds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingLoginRow {
    pub provider: String,
    pub browser_hash: Vec<u8>,
    pub sealed: Vec<u8>,
    pub expires_at: i64,
}

/// What consuming a `state` found.
#[derive(Debug, Clone)]
pub enum PendingLogin {
    /// Consumed now, by this call (it may still have expired: the caller checks).
    Fresh(PendingLoginRow),
    /// Consumed before: a replayed callback.
    Used,
    /// No such state.
    Unknown,
}

/// A person to create at a first sign-in, with their link.
#[derive(Debug, Clone)]
pub struct NewOidcPerson<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
}

const PROVIDER_COLUMNS: &str = "id, name, label, issuer, client_id, client_secret_sealed, ca_file, match_claim, create_users, groups_claim, admin_groups, scopes, trust_unverified_email, allowed_domains, created_at, updated_at";

impl Db {
    // --- providers from the page ------------------------------------------------------

    pub async fn oidc_providers(&self) -> DbResult<Vec<OidcProviderRow>> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM oidc_providers ORDER BY name");
        let rows = on_backend!(self, |pool| {
            sqlx::query_as::<_, OidcProviderRow>(&sql)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    pub async fn oidc_provider(&self, id: i64) -> DbResult<OidcProviderRow> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM oidc_providers WHERE id = $1");
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, OidcProviderRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    pub async fn insert_oidc_provider(&self, p: &OidcProviderFields<'_>) -> DbResult<i64> {
        let id: i64 = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO oidc_providers (name, label, issuer, client_id, client_secret_sealed, \
                 ca_file, match_claim, create_users, groups_claim, admin_groups, scopes, \
                 trust_unverified_email, allowed_domains, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14, $13, $13) RETURNING id",
            )
            .bind(p.name)
            .bind(p.label)
            .bind(p.issuer)
            .bind(p.client_id)
            .bind(p.client_secret_sealed)
            .bind(p.ca_file)
            .bind(p.match_claim)
            .bind(p.create_users)
            .bind(p.groups_claim)
            .bind(p.admin_groups)
            .bind(p.scopes)
            .bind(p.trust_unverified_email)
            .bind(now())
            .bind(p.allowed_domains)
            .fetch_one(pool)
            .await?
        });
        Ok(id)
    }

    /// Saves a provider's fields; a `None` secret keeps the stored one.
    pub async fn update_oidc_provider(&self, id: i64, p: &OidcProviderFields<'_>) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE oidc_providers SET name = $1, label = $2, issuer = $3, client_id = $4, \
                 client_secret_sealed = COALESCE($5, client_secret_sealed), ca_file = $6, \
                 match_claim = $7, create_users = $8, groups_claim = $9, admin_groups = $10, \
                 scopes = $11, trust_unverified_email = $12, updated_at = $13, \
                 allowed_domains = $15 WHERE id = $14",
            )
            .bind(p.name)
            .bind(p.label)
            .bind(p.issuer)
            .bind(p.client_id)
            .bind(p.client_secret_sealed)
            .bind(p.ca_file)
            .bind(p.match_claim)
            .bind(p.create_users)
            .bind(p.groups_claim)
            .bind(p.admin_groups)
            .bind(p.scopes)
            .bind(p.trust_unverified_email)
            .bind(now())
            .bind(id)
            .bind(p.allowed_domains)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }

    pub async fn delete_oidc_provider(&self, id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM oidc_providers WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    // --- pending sign-ins -------------------------------------------------------------

    pub async fn insert_oidc_pending(
        &self,
        state_hash: &[u8],
        provider: &str,
        browser_hash: &[u8],
        sealed: &[u8],
        expires_at: i64,
    ) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO oidc_pending_logins (state_hash, provider, browser_hash, sealed, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(state_hash)
            .bind(provider)
            .bind(browser_hash)
            .bind(sealed)
            .bind(now())
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Consumes a pending sign-in: one conditional statement marks it used, so of two
    /// callbacks with the same `state` exactly one gets it.
    pub async fn consume_oidc_pending(&self, state_hash: &[u8]) -> DbResult<PendingLogin> {
        let at = now();
        let fresh = on_backend!(self, |pool| {
            sqlx::query_as::<_, PendingLoginRow>(
                "UPDATE oidc_pending_logins SET used_at = $2 WHERE state_hash = $1 AND used_at IS NULL \
                 RETURNING provider, browser_hash, sealed, expires_at",
            )
            .bind(state_hash)
            .bind(at)
            .fetch_optional(pool)
            .await?
        });
        if let Some(row) = fresh {
            return Ok(PendingLogin::Fresh(row));
        }
        let seen: Option<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT created_at FROM oidc_pending_logins WHERE state_hash = $1")
                .bind(state_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(match seen {
            Some(_) => PendingLogin::Used,
            None => PendingLogin::Unknown,
        })
    }

    /// Forgets pending sign-ins that expired before `before` (used ones are kept until
    /// then, so a replay is told apart from a made-up state).
    pub async fn sweep_oidc_pending(&self, before: i64) -> DbResult<u64> {
        let n = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM oidc_pending_logins WHERE expires_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n)
    }

    // --- people -----------------------------------------------------------------------

    /// The person a provider's subject is linked to, stamping the sign-in.
    pub async fn oidc_linked_user(&self, issuer: &str, subject: &str) -> DbResult<Option<i64>> {
        let id: Option<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "UPDATE oidc_links SET last_login_at = $3 WHERE issuer = $1 AND subject = $2 RETURNING user_id",
            )
            .bind(issuer)
            .bind(subject)
            .bind(now())
            .fetch_optional(pool)
            .await?
        });
        Ok(id)
    }

    /// Links a subject to an existing person; `Conflict` if either side is linked.
    pub async fn insert_oidc_link(
        &self,
        issuer: &str,
        subject: &str,
        user_id: i64,
    ) -> DbResult<()> {
        let at = now();
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO oidc_links (issuer, subject, user_id, created_at, last_login_at) VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(issuer)
            .bind(subject)
            .bind(user_id)
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn user_by_username(&self, username: &str) -> DbResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(username)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    pub async fn user_by_email(&self, email: &str) -> DbResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(email)
                .fetch_optional(pool)
                .await?
        });
        Ok(row)
    }

    /// Creates a person (source `oidc`, no password) and their link in one transaction.
    pub async fn create_oidc_person(&self, p: &NewOidcPerson<'_>) -> DbResult<UserRow> {
        let at = now();
        let sql = format!(
            "INSERT INTO users (username, email, name, department, role, password_hash, created_at, updated_at, source) \
             VALUES ($1, $2, $3, '', $4, NULL, $5, $5, 'oidc') RETURNING {USER_COLUMNS}"
        );
        let row = on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, UserRow>(&sql)
                .bind(p.username)
                .bind(p.email)
                .bind(p.name)
                .bind(p.role)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO oidc_links (issuer, subject, user_id, created_at, last_login_at) VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(p.issuer)
            .bind(p.subject)
            .bind(row.id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            row
        });
        Ok(row)
    }

    /// Sets a person's role as the provider's groups say (`admin` or `user`).
    pub async fn set_user_role(&self, user_id: i64, role: &str) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
                .bind(role)
                .bind(now())
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    // --- sessions ---------------------------------------------------------------------

    /// Marks a browser session as opened by single sign-on (the row goes with it).
    pub async fn insert_oidc_session(
        &self,
        token_hash: &[u8],
        provider: &str,
        id_token_sealed: Option<&[u8]>,
    ) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO oidc_sessions (token_hash, provider, id_token_sealed) VALUES ($1, $2, $3)",
            )
            .bind(token_hash)
            .bind(provider)
            .bind(id_token_sealed)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The provider and sealed ID token of a session single sign-on opened.
    pub async fn oidc_session(
        &self,
        token_hash: &[u8],
    ) -> DbResult<Option<(String, Option<Vec<u8>>)>> {
        let row: Option<(String, Option<Vec<u8>>)> = on_backend!(self, |pool| {
            sqlx::query_as(
                "SELECT provider, id_token_sealed FROM oidc_sessions WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }
}
