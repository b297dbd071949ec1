//! CSV imports of people: the stored dry-run plan, and applying it in one transaction
//! (claimed once, every person and card written, one audit row) or not at all.

use super::{AuditRecord, Db, DbError, DbResult, on_backend};
use crate::clock::now;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserImportRow {
    pub id: i64,
    pub created_by: i64,
    pub created_at: i64,
    pub file_name: String,
    /// The plan as JSON (`identity::import` owns its shape).
    pub plan: String,
    pub applied_at: Option<i64>,
}

/// A person the import creates (role `user`, no password: they sign in once one is
/// set, or use their card).
#[derive(Debug, Clone)]
pub struct ImportCreate<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub department: &'a str,
    pub card_hash: Option<&'a [u8]>,
}

/// A change the import makes to an existing local person; `None` leaves a field.
#[derive(Debug, Clone)]
pub struct ImportUpdate<'a> {
    pub user_id: i64,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    pub department: Option<&'a str>,
    pub card_hash: Option<&'a [u8]>,
}

const COLUMNS: &str = "id, created_by, created_at, file_name, plan, applied_at";

impl Db {
    pub async fn insert_user_import(
        &self,
        created_by: i64,
        file_name: &str,
        plan: &str,
    ) -> DbResult<i64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO user_imports (created_by, created_at, file_name, plan) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(created_by)
            .bind(now())
            .bind(file_name)
            .bind(plan)
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn user_import(&self, id: i64) -> DbResult<UserImportRow> {
        let sql = format!("SELECT {COLUMNS} FROM user_imports WHERE id = $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, UserImportRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Forgets previews made before `before` (applied or not).
    pub async fn delete_user_imports_before(&self, before: i64) -> DbResult<u64> {
        Ok(on_backend!(self, |pool| {
            sqlx::query("DELETE FROM user_imports WHERE created_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Applies an import in one transaction: claims it (`NotFound` when already
    /// applied or gone), creates and updates the people, links the cards and writes
    /// the audit row. Any clash (`DbError::Conflict`, or an updated person no longer
    /// local) rolls everything back.
    pub async fn apply_user_import(
        &self,
        import_id: i64,
        creates: &[ImportCreate<'_>],
        updates: &[ImportUpdate<'_>],
        audit: &AuditRecord<'_>,
    ) -> DbResult<()> {
        let at = now();
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(
                "UPDATE user_imports SET applied_at = $1 WHERE id = $2 AND applied_at IS NULL",
            )
            .bind(at)
            .bind(import_id)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() != 1 {
                return Err(DbError::NotFound);
            }
            for person in creates {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (username, email, name, department, role, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'user', $5, $5) RETURNING id",
                )
                .bind(person.username)
                .bind(person.email)
                .bind(person.name)
                .bind(person.department)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
                if let Some(card) = person.card_hash {
                    sqlx::query(
                        "INSERT INTO badges (badge_hash, user_id, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(card)
                    .bind(id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for change in updates {
                let done = sqlx::query(
                    "UPDATE users SET email = COALESCE($1, email), name = COALESCE($2, name), \
                     department = COALESCE($3, department), updated_at = $4 \
                     WHERE id = $5 AND source <> 'ldap'",
                )
                .bind(change.email)
                .bind(change.name)
                .bind(change.department)
                .bind(at)
                .bind(change.user_id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(DbError::Conflict("person changed since the preview".into()));
                }
                if let Some(card) = change.card_hash {
                    sqlx::query(
                        "INSERT INTO badges (badge_hash, user_id, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(card)
                    .bind(change.user_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query(
                "INSERT INTO audit_log (at, actor_id, actor, action, target, outcome, client_addr, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(at)
            .bind(audit.actor_id)
            .bind(audit.actor)
            .bind(audit.action)
            .bind(audit.target)
            .bind(audit.outcome)
            .bind(audit.client_addr)
            .bind(audit.detail)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
