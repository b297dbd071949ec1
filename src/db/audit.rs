//! The audit log: every authentication attempt and every admin action. Append-only.
//! Read back a page at a time, newest first, by action prefix (`audit_page`) or by the
//! admin page's filters (`audit_search`: person, action, outcome, dates; issue 20).

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

/// What the audit page filters by; `None` is any. Strings are already checked against
/// their closed sets by the caller.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// A username that acted or was acted on (actor or target).
    pub person: Option<String>,
    pub action: Option<&'static str>,
    pub outcome: Option<&'static str>,
    /// From this time on (Unix seconds, inclusive).
    pub since: Option<i64>,
    /// Before this time (exclusive).
    pub until: Option<i64>,
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

    /// Newest first, filtered; `before` is the id to page from.
    pub async fn audit_search(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: i64,
    ) -> DbResult<Vec<AuditEntry>> {
        let rows = on_backend!(self, |pool| {
            sqlx::query_as::<_, AuditEntry>(
                "SELECT id, at, actor_id, actor, action, target, outcome, client_addr, detail FROM audit_log \
                 WHERE ($1 IS NULL OR id < $1) \
                 AND ($2 IS NULL OR actor = $2 OR target = $2) \
                 AND ($3 IS NULL OR action = $3) \
                 AND ($4 IS NULL OR outcome = $4) \
                 AND ($5 IS NULL OR at >= $5) \
                 AND ($6 IS NULL OR at < $6) \
                 ORDER BY id DESC LIMIT $7",
            )
            .bind(before)
            .bind(filter.person.as_deref())
            .bind(filter.action)
            .bind(filter.outcome)
            .bind(filter.since)
            .bind(filter.until)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}
