//! An admin's changes to a person that must leave one enabled admin behind: editing
//! (role included) and disabling. Each is one conditional statement committed with its
//! audit row; on Postgres the enabled admins' rows are locked first (in id order), so
//! two admins demoting each other at once cannot both succeed (SQLite runs one writer
//! at a time already).

use super::{AuditRecord, Db, DbResult, UserRow, users::USER_COLUMNS};
use crate::clock::now;

/// What an admin may set on a person (all of it at once; unchanged fields come back
/// as they were).
#[derive(Debug, Clone)]
pub struct UserFields<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub department: &'a str,
    pub role: &'a str,
    pub hold_hours: Option<i64>,
}

/// Another enabled admin exists besides user `$ID`.
const ANOTHER_ADMIN: &str =
    "EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND NOT o.disabled AND o.id <> $ID)";

const LOCK_ADMINS_PG: &str =
    "SELECT id FROM users WHERE role = 'admin' AND NOT disabled ORDER BY id FOR UPDATE";

const INSERT_AUDIT: &str = "INSERT INTO audit_log (at, actor_id, actor, action, target, outcome, client_addr, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Runs `$statement` (a query built on `$tx`) in a transaction that first locks the
/// enabled admins on Postgres; when it returns a row the audit record is written and
/// committed with it. `Ok(None)`: the guard refused (or the row is gone: the caller
/// tells which).
macro_rules! guarded {
    ($db:expr, $audit:expr, |$tx:ident| $statement:expr) => {{
        let audit: &AuditRecord<'_> = $audit;
        match $db {
            Db::Sqlite(pool) => {
                let mut $tx = pool.begin().await?;
                let row: Option<UserRow> = $statement;
                if row.is_some() {
                    write_audit!($tx, audit);
                    $tx.commit().await?;
                }
                row
            }
            Db::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                sqlx::query(LOCK_ADMINS_PG).fetch_all(&mut *$tx).await?;
                let row: Option<UserRow> = $statement;
                if row.is_some() {
                    write_audit!($tx, audit);
                    $tx.commit().await?;
                }
                row
            }
        }
    }};
}

macro_rules! write_audit {
    ($tx:ident, $audit:expr) => {
        sqlx::query(INSERT_AUDIT)
            .bind(now())
            .bind($audit.actor_id)
            .bind($audit.actor)
            .bind($audit.action)
            .bind($audit.target)
            .bind($audit.outcome)
            .bind($audit.client_addr)
            .bind($audit.detail)
            .execute(&mut *$tx)
            .await?
    };
}

impl Db {
    /// Sets every field an admin edits, unless that would demote the last enabled
    /// admin. `Ok(None)`: refused by that rule. Unique clashes are `DbError::Conflict`
    /// naming the constraint (username or e-mail).
    pub async fn update_user_guarded(
        &self,
        user_id: i64,
        fields: &UserFields<'_>,
        audit: &AuditRecord<'_>,
    ) -> DbResult<Option<UserRow>> {
        let sql = format!(
            "UPDATE users SET username = $1, email = $2, name = $3, department = $4, role = $5, \
             hold_hours = $6, updated_at = $7 \
             WHERE id = $8 AND ($5 = 'admin' OR role <> 'admin' OR disabled OR {}) \
             RETURNING {USER_COLUMNS}",
            ANOTHER_ADMIN.replace("$ID", "$8")
        );
        let row = guarded!(self, audit, |tx| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(fields.username)
                .bind(fields.email)
                .bind(fields.name)
                .bind(fields.department)
                .bind(fields.role)
                .bind(fields.hold_hours)
                .bind(now())
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
        });
        self.guard_outcome(user_id, row).await
    }

    /// Disables (ending nothing: the caller ends the sessions) or enables the user,
    /// unless that would disable the last enabled admin. `Ok(None)`: refused so.
    pub async fn set_user_disabled_guarded(
        &self,
        user_id: i64,
        disabled: bool,
        audit: &AuditRecord<'_>,
    ) -> DbResult<Option<UserRow>> {
        let sql = format!(
            "UPDATE users SET disabled = $1, updated_at = $2 \
             WHERE id = $3 AND (NOT $1 OR role <> 'admin' OR disabled OR {}) \
             RETURNING {USER_COLUMNS}",
            ANOTHER_ADMIN.replace("$ID", "$3")
        );
        let row = guarded!(self, audit, |tx| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(disabled)
                .bind(now())
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
        });
        self.guard_outcome(user_id, row).await
    }

    /// No row from a guarded statement: a missing user is `NotFound`, else the guard.
    async fn guard_outcome(&self, user_id: i64, row: Option<UserRow>) -> DbResult<Option<UserRow>> {
        match row {
            Some(row) => Ok(Some(row)),
            None => self.user_by_id(user_id).await.map(|_| None),
        }
    }
}
