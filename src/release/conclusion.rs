//! How a release ends, whoever delivered it (a worker's push, an output device's or an
//! agent's pull): the outcome recorded with its job, a printed job's documents purged,
//! and the end counted, logged and audited.

use std::time::Duration;

use super::Release;
use crate::db::{ReleaseEnd, ReleaseRow};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome, ClientInfo};

/// Ends a release (push or pull) with its outcome: the job moves with it, a printed
/// job's documents are purged, and the end is counted, logged and audited.
pub(crate) async fn conclude(
    release: &Release,
    row: &ReleaseRow,
    owner: &str,
    end: ReleaseEnd,
    reason: &str,
    elapsed: Duration,
) -> bool {
    if let Err(e) = release
        .db
        .finish_release(row.id, Some(owner), end, reason)
        .await
    {
        tracing::warn!(release = row.id, error = %e, "recording a release's end failed");
        return false;
    }
    let (action, outcome) = match end {
        ReleaseEnd::Printed => (AuditAction::ReleasePrinted, AuditOutcome::Success),
        ReleaseEnd::Failed => (AuditAction::ReleaseFailed, AuditOutcome::Failure),
        ReleaseEnd::NeedsAttention => (AuditAction::ReleaseNeedsAttention, AuditOutcome::Unknown),
    };
    if end == ReleaseEnd::Printed
        && let Err(e) = release.jobs.purge_printed(row.job_id).await
    {
        // The sweep of unindexed blobs cannot catch this one (the row still points
        // at it); say so loudly.
        tracing::error!(job = row.job_id, error = %e, "purging a printed job's documents failed");
    }
    metrics::counter!("printpark_release_outcomes_total", "outcome" => action.as_str())
        .increment(1);
    tracing::info!(release = row.id, job = row.job_id, printer = %row.printer_name, outcome = action.as_str(), elapsed_ms = elapsed.as_millis() as u64, "release ended");
    audit(
        release,
        row.id,
        action,
        outcome,
        &format!(
            "job {} at printer {}: {reason}",
            row.job_id, row.printer_name
        ),
    )
    .await;
    true
}

/// Audits what happened to a release, as the system (no person acted).
pub(super) async fn audit(
    release: &Release,
    id: i64,
    action: AuditAction,
    outcome: AuditOutcome,
    detail: &str,
) {
    let system = ClientInfo {
        addr: "system".into(),
        user_agent: String::new(),
    };
    if let Err(e) = release
        .identity
        .audit(AuditEvent {
            actor: None,
            action,
            target: &format!("release {id}"),
            outcome,
            client: &system,
            detail,
        })
        .await
    {
        tracing::warn!(release = id, error = %e, "auditing a release failed");
    }
}
