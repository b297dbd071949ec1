//! Releases: one row per (job, printer) a user released, with the orchestrator's
//! leases. A job row moves with its release: held → releasing → printed, back to
//! held (nothing reached the printer), or needs-attention (outcome unknown).

use super::infra_events::{FETCHABLE_JOB_STATE, emit_event};
use super::{Db, DbResult, on_backend, touched};
use crate::clock::now;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReleaseRow {
    pub id: i64,
    pub job_id: i64,
    pub printer_id: i64,
    pub user_id: i64,
    pub via: String,
    /// Decoded at the row edge: an unknown string is a decode error naming it.
    #[sqlx(try_from = "String")]
    pub state: ReleaseState,
    pub copies: i64,
    pub sides: String,
    pub color_mode: String,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub transmitting: bool,
    pub attempts: i64,
    pub not_before: i64,
    pub bytes_sent: i64,
    pub protocol: String,
    pub printer_job_id: Option<i64>,
    pub reason: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    /// Joined for display.
    pub job_name: String,
    pub printer_name: String,
    pub owner: String,
}

pub(super) const RELEASE_SELECT: &str = "SELECT r.id, r.job_id, r.printer_id, r.user_id, r.via, r.state, r.copies, r.sides, r.color_mode, r.lease_owner, r.lease_until, r.transmitting, r.attempts, r.not_before, r.bytes_sent, r.protocol, r.printer_job_id, r.reason, r.created_at, r.updated_at, r.finished_at, j.name AS job_name, p.name AS printer_name, u.username AS owner \
     FROM releases r JOIN jobs j ON j.id = r.job_id JOIN printers p ON p.id = r.printer_id JOIN users u ON u.id = r.user_id";

/// Where a release is in its life: the `releases.state` column. The spelling of each
/// state lives here, where rows are read and written; the moves allowed between them
/// (the state machine) are in `release/state.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseState {
    /// Waiting for a worker, an output device or an agent to take it.
    Queued,
    /// Taken under a lease; bytes may be on their way (`transmitting`).
    Releasing,
    /// The printer accepted it; waiting for it to say the job completed.
    Sent,
    Printed,
    /// Nothing was printed; its job is held again.
    Failed,
    /// Bytes may have reached the printer and the outcome is unknown: an admin decides.
    NeedsAttention,
}

impl ReleaseState {
    /// Every state, in the order of a release's life.
    pub const ALL: [ReleaseState; 6] = [
        ReleaseState::Queued,
        ReleaseState::Releasing,
        ReleaseState::Sent,
        ReleaseState::Printed,
        ReleaseState::Failed,
        ReleaseState::NeedsAttention,
    ];

    /// The column's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Queued => "queued",
            ReleaseState::Releasing => "releasing",
            ReleaseState::Sent => "sent",
            ReleaseState::Printed => "printed",
            ReleaseState::Failed => "failed",
            ReleaseState::NeedsAttention => "needs-attention",
        }
    }
}

impl std::fmt::Display for ReleaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `releases.state` value no [`ReleaseState`] spells.
#[derive(Debug, thiserror::Error)]
#[error("unknown release state {0:?}")]
pub struct UnknownReleaseState(pub String);

impl std::str::FromStr for ReleaseState {
    type Err = UnknownReleaseState;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ReleaseState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| UnknownReleaseState(text.to_string()))
    }
}

impl TryFrom<String> for ReleaseState {
    type Error = UnknownReleaseState;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

/// One job to release, with the owner's last-minute changes (never costlier).
#[derive(Debug, Clone)]
pub struct ReleaseItem {
    pub job_id: i64,
    pub copies: i64,
    pub sides: String,
    pub color_mode: String,
}

/// How a release ends, and what its job becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseEnd {
    /// The printer completed it: the job is printed (its documents are purged next).
    Printed,
    /// Nothing was printed and nothing is pending: the job is held again.
    Failed,
    /// Bytes may have reached the printer and the outcome is unknown.
    NeedsAttention,
}

impl ReleaseEnd {
    /// The state the release ends in.
    pub fn state(self) -> ReleaseState {
        match self {
            ReleaseEnd::Printed => ReleaseState::Printed,
            ReleaseEnd::Failed => ReleaseState::Failed,
            ReleaseEnd::NeedsAttention => ReleaseState::NeedsAttention,
        }
    }

    /// The state its job moves to.
    fn job_state(self) -> &'static str {
        match self {
            ReleaseEnd::Printed => "printed",
            ReleaseEnd::Failed => "held",
            ReleaseEnd::NeedsAttention => "needs-attention",
        }
    }
}

impl Db {
    /// Queues releases of the user's held jobs to one printer, in one transaction.
    /// A job that is not the user's or not held is skipped. Returns the new release ids.
    /// For a printer whose output devices pull their jobs, the same transaction writes
    /// the job-fetchable event of each release for every subscription to the printer.
    pub async fn create_releases(
        &self,
        user_id: i64,
        printer_id: i64,
        via: &str,
        items: &[ReleaseItem],
    ) -> DbResult<Vec<i64>> {
        let at = now();
        let ids = on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut ids = Vec::new();
            for item in items {
                let moved = sqlx::query(
                    "UPDATE jobs SET state = 'releasing' WHERE id = $1 AND owner_id = $2 AND state = 'held'",
                )
                .bind(item.job_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved == 0 {
                    continue;
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO releases (job_id, printer_id, user_id, via, state, copies, sides, color_mode, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $8) RETURNING id",
                )
                .bind(item.job_id)
                .bind(printer_id)
                .bind(user_id)
                .bind(via)
                .bind(item.copies)
                .bind(&item.sides)
                .bind(&item.color_mode)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
                emit_event!(tx, printer_id, id, "job-fetchable", FETCHABLE_JOB_STATE, at);
                ids.push(id);
            }
            tx.commit().await?;
            ids
        });
        Ok(ids)
    }

    /// Takes the oldest due queued release under a lease, skipping printers that are
    /// busy with another release of ours (a printer takes one job at a time),
    /// printers whose output devices fetch their jobs themselves (protocol `infra`)
    /// and jobs kept on a workstation (its agent delivers them).
    pub async fn claim_release(
        &self,
        owner: &str,
        lease_secs: i64,
    ) -> DbResult<Option<ReleaseRow>> {
        let at = now();
        let pick = "SELECT q.id FROM releases q WHERE q.state = 'queued' AND q.not_before <= $1 \
             AND q.printer_id IN (SELECT id FROM printers WHERE protocol <> 'infra') \
             AND q.job_id NOT IN (SELECT id FROM jobs WHERE held_by_agent IS NOT NULL) \
             AND NOT EXISTS (SELECT 1 FROM releases b WHERE b.printer_id = q.printer_id AND b.state IN ('releasing', 'sent')) \
             ORDER BY q.id LIMIT 1";
        let lock = match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE releases SET state = 'releasing', lease_owner = $2, lease_until = $3, attempts = attempts + 1, \
             transmitting = FALSE, updated_at = $1 WHERE id = ({pick}{lock}) AND state = 'queued' RETURNING id"
        );
        let id: Option<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar(&sql)
                .bind(at)
                .bind(owner)
                .bind(at + lease_secs)
                .fetch_optional(pool)
                .await?
        });
        match id {
            Some(id) => Ok(Some(self.release_by_id(id).await?)),
            None => Ok(None),
        }
    }

    pub async fn release_by_id(&self, id: i64) -> DbResult<ReleaseRow> {
        let sql = format!("{RELEASE_SELECT} WHERE r.id = $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, ReleaseRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Bytes may leave for the printer from now on (under this lease).
    pub async fn mark_transmitting(&self, id: i64, owner: &str, protocol: &str) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE releases SET transmitting = TRUE, protocol = $1, updated_at = $2 \
                 WHERE id = $3 AND lease_owner = $4 AND state = 'releasing'",
            )
            .bind(protocol)
            .bind(now())
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }

    /// The printer took the whole job; we now follow it to completion.
    pub async fn mark_sent(
        &self,
        id: i64,
        owner: &str,
        printer_job_id: Option<i64>,
        bytes: i64,
    ) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE releases SET state = 'sent', printer_job_id = $1, bytes_sent = $2, updated_at = $3 \
                 WHERE id = $4 AND lease_owner = $5 AND state = 'releasing'",
            )
            .bind(printer_job_id)
            .bind(bytes)
            .bind(now())
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }

    /// Keeps a lease alive while a long delivery runs.
    pub async fn renew_lease(&self, id: i64, owner: &str, until: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE releases SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND state IN ('releasing', 'sent')")
                .bind(until)
                .bind(id)
                .bind(owner)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    /// Puts a release back in the queue (the printer was busy, or not reached):
    /// nothing is pending at the printer.
    pub async fn requeue_release(
        &self,
        id: i64,
        owner: &str,
        not_before: i64,
        reason: &str,
    ) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE releases SET state = 'queued', lease_owner = NULL, lease_until = NULL, transmitting = FALSE, \
                 not_before = $1, reason = $2, updated_at = $3 WHERE id = $4 AND lease_owner = $5 AND state = 'releasing'",
            )
            .bind(not_before)
            .bind(reason)
            .bind(now())
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }

    /// Ends a release and moves its job in the same transaction. `owner` = the lease
    /// holder (`None`: a queued release ended by the orchestrator itself).
    pub async fn finish_release(
        &self,
        id: i64,
        owner: Option<&str>,
        end: ReleaseEnd,
        reason: &str,
    ) -> DbResult<()> {
        let (release_state, job_state) = (end.state().as_str(), end.job_state());
        let at = now();
        let done = on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let job_id: Option<i64> = sqlx::query_scalar(
                "UPDATE releases SET state = $1, reason = $2, finished_at = $3, updated_at = $3, lease_owner = NULL, lease_until = NULL \
                 WHERE id = $4 AND state IN ('queued', 'releasing', 'sent') AND ($5 IS NULL OR lease_owner = $5) RETURNING job_id",
            )
            .bind(release_state)
            .bind(reason)
            .bind(at)
            .bind(id)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(job_id) = job_id {
                sqlx::query("UPDATE jobs SET state = $1 WHERE id = $2 AND state = 'releasing'")
                    .bind(job_state)
                    .bind(job_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            job_id.is_some()
        });
        touched(u64::from(done))
    }

    /// Leases that ran out (a crashed or stopped server, an output device gone
    /// silent): a release that may have sent bytes needs attention; one that sent
    /// nothing goes back to the queue (fetchable again, with its event, for a device).
    /// Returns the releases that now need attention.
    pub async fn expire_release_leases(&self) -> DbResult<Vec<i64>> {
        let at = now();
        let unknown: Vec<(i64, bool)> = on_backend!(self, |pool| {
            sqlx::query_as(
                "SELECT id, device_id IS NOT NULL FROM releases WHERE state IN ('releasing', 'sent') AND lease_until < $1 AND (transmitting OR state = 'sent')",
            )
            .bind(at)
            .fetch_all(pool)
            .await?
        });
        for (id, by_device) in &unknown {
            let reason = if *by_device {
                "the output device went silent after fetching the job; it may have printed"
            } else {
                "the server stopped while the job was being sent; it may have printed"
            };
            let _ = self
                .finish_release(*id, None, ReleaseEnd::NeedsAttention, reason)
                .await;
        }
        let fetched: Vec<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM releases WHERE state = 'releasing' AND lease_until < $1 AND NOT transmitting AND device_id IS NOT NULL",
            )
            .bind(at)
            .fetch_all(pool)
            .await?
        });
        self.make_fetchable_again(
            &fetched,
            "the output device went silent before fetching the document",
        )
        .await?;
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE releases SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = $1 \
                 WHERE state = 'releasing' AND lease_until < $1 AND NOT transmitting",
            )
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(unknown.into_iter().map(|(id, _)| id).collect())
    }

    /// A user's releases since `since`, newest first (progress on the release pages).
    pub async fn releases_of_user(&self, user_id: i64, since: i64) -> DbResult<Vec<ReleaseRow>> {
        let sql = format!(
            "{RELEASE_SELECT} WHERE r.user_id = $1 AND r.created_at >= $2 ORDER BY r.id DESC"
        );
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, ReleaseRow>(&sql)
                .bind(user_id)
                .bind(since)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Releases in these states, newest first (admin: failures and needs-attention).
    pub async fn releases_in_states(
        &self,
        states: &[ReleaseState],
        limit: i64,
    ) -> DbResult<Vec<ReleaseRow>> {
        // Spelled by the enum, never by a caller: safe to write into the statement.
        let list = states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("{RELEASE_SELECT} WHERE r.state IN ({list}) ORDER BY r.id DESC LIMIT $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, ReleaseRow>(&sql)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// An admin's decision on a job that needs attention: it is held again (to retry)
    /// or counted as printed.
    pub async fn resolve_attention(
        &self,
        release_id: i64,
        job_state: &str,
        note: &str,
    ) -> DbResult<i64> {
        let job_id = on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let job_id: i64 = sqlx::query_scalar(
                "UPDATE releases SET reason = reason || $1, updated_at = $2 WHERE id = $3 AND state = 'needs-attention' RETURNING job_id",
            )
            .bind(note)
            .bind(now())
            .bind(release_id)
            .fetch_one(&mut *tx)
            .await?;
            let moved = sqlx::query(
                "UPDATE jobs SET state = $1 WHERE id = $2 AND state = 'needs-attention'",
            )
            .bind(job_state)
            .bind(job_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                return Err(super::DbError::NotFound);
            }
            tx.commit().await?;
            job_id
        });
        Ok(job_id)
    }
}
