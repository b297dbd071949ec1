//! Users and their credentials: password and PIN hashes, app passwords, failure counters.

use super::{Db, DbResult, on_backend, touched};
use crate::clock::now;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub name: String,
    pub department: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub pin_hash: Option<String>,
    pub disabled: bool,
    /// Hours this user's jobs are held before they expire; `None` = the queue default.
    pub hold_hours: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// `local`, `ldap` or `oidc` (decoded into `identity::UserSource` above this room).
    pub source: String,
    /// The directory's stable identifier for `ldap` people.
    pub external_id: Option<String>,
    /// An admin reset the password: the next sign-in must choose a new one.
    pub must_change_password: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub department: &'a str,
    pub role: &'a str,
    pub password_hash: Option<&'a str>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppPasswordRow {
    pub id: i64,
    pub user_id: i64,
    pub label: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct LoginFailureRow {
    pub failures: i64,
    pub locked_until: i64,
}

pub(super) const USER_COLUMNS: &str = "id, username, email, name, department, role, password_hash, pin_hash, disabled, hold_hours, created_at, updated_at, source, external_id, must_change_password";

impl Db {
    pub async fn insert_user(&self, user: &NewUser<'_>) -> DbResult<UserRow> {
        let at = now();
        let sql = format!(
            "INSERT INTO users (username, email, name, department, role, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {USER_COLUMNS}"
        );
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(user.username)
                .bind(user.email)
                .bind(user.name)
                .bind(user.department)
                .bind(user.role)
                .bind(user.password_hash)
                .bind(at)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    pub async fn user_by_id(&self, id: i64) -> DbResult<UserRow> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    /// Finds a user by username or e-mail (both stored lower-case).
    pub async fn user_by_login(&self, login: &str) -> DbResult<UserRow> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1 OR email = $1");
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(login)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    pub async fn list_users(&self) -> DbResult<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
        let rows = on_backend!(self, |pool| {
            sqlx::query_as::<_, UserRow>(&sql).fetch_all(pool).await?
        });
        Ok(rows)
    }

    pub async fn count_admins(&self) -> DbResult<i64> {
        let n: i64 = on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    pub async fn count_users(&self) -> DbResult<i64> {
        let n: i64 = on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// Sets the password hash; `must_change` says whether the next sign-in must choose
    /// a new one first (an admin's reset) or not (the person chose it).
    pub async fn set_password_hash(
        &self,
        user_id: i64,
        hash: &str,
        must_change: bool,
    ) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(hash)
            .bind(must_change)
            .bind(now())
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }

    /// Revokes every live app password of the user; returns how many.
    pub async fn revoke_app_passwords_of(&self, user_id: i64) -> DbResult<u64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE app_passwords SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(now())
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    pub async fn set_pin_hash(&self, user_id: i64, hash: Option<&str>) -> DbResult<()> {
        self.update_user_column("pin_hash", user_id, hash).await
    }

    async fn update_user_column(
        &self,
        column: &'static str,
        user_id: i64,
        value: Option<&str>,
    ) -> DbResult<()> {
        let sql = format!("UPDATE users SET {column} = $1, updated_at = $2 WHERE id = $3");
        let done = on_backend!(self, |pool| {
            sqlx::query(&sql)
                .bind(value)
                .bind(now())
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    pub async fn set_hold_hours(&self, user_id: i64, hours: Option<i64>) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE users SET hold_hours = $1, updated_at = $2 WHERE id = $3")
                .bind(hours)
                .bind(now())
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    /// Disables or enables the user with no last-admin guard (tests and operator
    /// tools); admins go through [`Db::set_user_disabled_guarded`].
    pub async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
                .bind(disabled)
                .bind(now())
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    /// Deletes the user; their sessions and app passwords go with them (cascade).
    /// Their jobs must have been purged first (blobs are not the database's to delete).
    pub async fn delete_user(&self, user_id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    pub async fn insert_app_password(
        &self,
        user_id: i64,
        label: &str,
        secret_hash: &[u8],
    ) -> DbResult<AppPasswordRow> {
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, AppPasswordRow>(
                "INSERT INTO app_passwords (user_id, label, secret_hash, created_at) VALUES ($1, $2, $3, $4) \
                 RETURNING id, user_id, label, created_at, last_used_at, revoked_at",
            )
            .bind(user_id)
            .bind(label)
            .bind(secret_hash)
            .bind(now())
            .fetch_one(pool)
            .await?
        });
        Ok(row)
    }

    pub async fn app_passwords_of(&self, user_id: i64) -> DbResult<Vec<AppPasswordRow>> {
        let rows = on_backend!(self, |pool| {
            sqlx::query_as::<_, AppPasswordRow>(
                "SELECT id, user_id, label, created_at, last_used_at, revoked_at FROM app_passwords \
                 WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// The live (not revoked) app password with this keyed hash, marking it used. The
    /// mark is written at most once a minute: printing clients send their credentials
    /// with every request, and a write per request would queue behind the job writes.
    pub async fn use_app_password(&self, secret_hash: &[u8]) -> DbResult<AppPasswordRow> {
        let current = on_backend!(self, |pool| {
            sqlx::query_as::<_, AppPasswordRow>(
                "SELECT id, user_id, label, created_at, last_used_at, revoked_at FROM app_passwords \
                 WHERE secret_hash = $1 AND revoked_at IS NULL",
            )
            .bind(secret_hash)
            .fetch_one(pool)
            .await?
        });
        if current.last_used_at.is_some_and(|at| now() - at < 60) {
            return Ok(current);
        }
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, AppPasswordRow>(
                "UPDATE app_passwords SET last_used_at = $1 WHERE secret_hash = $2 AND revoked_at IS NULL \
                 RETURNING id, user_id, label, created_at, last_used_at, revoked_at",
            )
            .bind(now())
            .bind(secret_hash)
            .fetch_one(pool)
            .await?
        });
        Ok(row)
    }

    pub async fn revoke_app_password(&self, user_id: i64, id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE app_passwords SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
            )
            .bind(now())
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }

    pub async fn login_failure(&self, login: &str) -> DbResult<Option<LoginFailureRow>> {
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, LoginFailureRow>(
                "SELECT failures, locked_until FROM login_failures WHERE login = $1",
            )
            .bind(login)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// Counts one more failure atomically and returns the new count.
    pub async fn record_login_failure(&self, login: &str) -> DbResult<i64> {
        let n: i64 = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO login_failures (login, failures, locked_until, last_failure) VALUES ($1, 1, 0, $2) \
                 ON CONFLICT (login) DO UPDATE SET failures = login_failures.failures + 1, last_failure = $2 \
                 RETURNING failures",
            )
            .bind(login)
            .bind(now())
            .fetch_one(pool)
            .await?
        });
        Ok(n)
    }

    pub async fn lock_login_until(&self, login: &str, until: i64) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("UPDATE login_failures SET locked_until = $1 WHERE login = $2")
                .bind(until)
                .bind(login)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn clear_login_failures(&self, login: &str) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("DELETE FROM login_failures WHERE login = $1")
                .bind(login)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Forgets failure counters that are neither locked nor recent.
    pub async fn delete_stale_login_failures(&self, before: i64) -> DbResult<u64> {
        let n = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM login_failures WHERE last_failure < $1 AND locked_until < $2")
                .bind(before)
                .bind(now())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n)
    }
}
