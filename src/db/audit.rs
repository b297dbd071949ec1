//! The audit log: every authentication attempt and every admin action. Append-only.

use super::{Db, DbResult, on_backend};
use crate::clock::now;

/// What happened, as written by `identity` and the other domain modules.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord<'a> {
    pub actor_id: Option<i64>,
    /// Who acted, as shown to admins: a username, `system`, or the login that was tried.
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    /// `success`, `failure` or `denied`.
    pub outcome: &'a str,
    pub client_addr: &'a str,
    pub detail: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub client_addr: String,
    pub detail: String,
}

impl Db {
    pub async fn append_audit(&self, record: &AuditRecord<'_>) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO audit_log (at, actor_id, actor, action, target, outcome, client_addr, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(now())
            .bind(record.actor_id)
            .bind(record.actor)
            .bind(record.action)
            .bind(record.target)
            .bind(record.outcome)
            .bind(record.client_addr)
            .bind(record.detail)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Newest first; `before` is the id to page from.
    pub async fn audit_page(
        &self,
        before: Option<i64>,
        limit: i64,
        action_prefix: Option<&str>,
    ) -> DbResult<Vec<AuditEntry>> {
        let pattern = action_prefix.map(|p| format!("{p}%"));
        let rows = on_backend!(self, |pool| {
            sqlx::query_as::<_, AuditEntry>(
                "SELECT id, at, actor_id, actor, action, target, outcome, client_addr, detail FROM audit_log \
                 WHERE ($1 IS NULL OR id < $1) AND ($2 IS NULL OR action LIKE $2) ORDER BY id DESC LIMIT $3",
            )
            .bind(before)
            .bind(pattern.as_deref())
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}
