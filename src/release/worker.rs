//! The delivery workers: take a queued release under a lease, push the job to its
//! printer, follow it to the end, and record the outcome. Several processes may run
//! workers against one database; the lease decides who delivers.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::AsyncRead;

use super::Release;
use super::conclusion::{audit, conclude};
use super::push::{self, Completion, DocumentSource, Protocol, PushError, PushJob, PushTarget};
use crate::clock::now;
use crate::db::{ReleaseEnd, ReleaseRow};
use crate::identity::{AuditAction, AuditOutcome};
use crate::ipp::client::Timeouts;
use crate::vault::{BlobId, Vault};

pub(super) fn spawn(release: Release) -> Vec<tokio::task::JoinHandle<()>> {
    let process = uuid::Uuid::new_v4().simple().to_string();
    let mut handles: Vec<_> = (0..release.settings.workers)
        .map(|n| {
            let release = release.clone();
            let owner = format!("{}/{n}", &process[..12]);
            tokio::spawn(async move { work(release, owner).await })
        })
        .collect();
    let sweeper = release.clone();
    handles.push(tokio::spawn(async move { sweep(sweeper).await }));
    handles
}

async fn work(release: Release, owner: String) {
    loop {
        let lease = release.settings.lease_secs as i64;
        match release.db.claim_release(&owner, lease).await {
            Ok(Some(row)) => deliver(&release, &owner, row).await,
            Ok(None) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), release.wake.notified()).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming a release failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Leases left by a stopped or crashed process: needs-attention when bytes may have
/// left, back to the queue when none did.
async fn sweep(release: Release) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    loop {
        every.tick().await;
        let stale = crate::clock::now() - release.settings.retry_for_secs as i64;
        match release.db.expire_agent_orders(stale).await {
            Ok(ids) => {
                for id in ids {
                    tracing::warn!(
                        release = id,
                        "the workstation keeping this job stayed away; the job is held again"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "expiring workstation releases failed; will retry")
            }
        }
        match release.db.expire_release_leases().await {
            Ok(ids) => {
                for id in ids {
                    tracing::warn!(
                        release = id,
                        "a delivery was cut off mid-way; the job needs attention"
                    );
                    audit(
                        &release,
                        id,
                        AuditAction::ReleaseNeedsAttention,
                        AuditOutcome::Unknown,
                        "the server stopped while the job was being sent",
                    )
                    .await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "sweeping release leases failed; will retry"),
        }
    }
}

async fn deliver(release: &Release, owner: &str, row: ReleaseRow) {
    let started = std::time::Instant::now();
    let renew = keep_lease(release, row.id, owner, release.settings.lease_secs as i64);
    let outcome = push_release(release, owner, &row).await;
    renew.abort();
    let (end, reason) = match outcome {
        Step::Done(end, reason) => (end, reason),
        Step::Again(reason) => {
            let deadline = row.created_at + release.settings.retry_for_secs as i64;
            if now() < deadline {
                let backoff = (1i64 << row.attempts.clamp(1, 5)).min(30);
                if let Err(e) = release
                    .db
                    .requeue_release(row.id, owner, now() + backoff, &reason)
                    .await
                {
                    tracing::warn!(release = row.id, error = %e, "requeueing a release failed");
                }
                return;
            }
            (
                ReleaseEnd::Failed,
                format!(
                    "{reason} (gave up after {} s; the job is held again)",
                    release.settings.retry_for_secs
                ),
            )
        }
    };
    conclude(release, &row, owner, end, &reason, started.elapsed()).await;
}

/// What one delivery attempt came to.
enum Step {
    Done(ReleaseEnd, String),
    /// Nothing is pending at the printer; try again later (busy, not reached).
    Again(String),
}

async fn push_release(release: &Release, owner: &str, row: &ReleaseRow) -> Step {
    let printer = match release.db.printer_by_id(row.printer_id).await {
        Ok(p) => p,
        Err(e) => return Step::Again(format!("the printer could not be read: {e}")),
    };
    if printer.disabled {
        return Step::Done(
            ReleaseEnd::Failed,
            "the printer was disabled; the job is held again".into(),
        );
    }
    let (job, blobs) = match release.jobs.for_delivery(row.job_id).await {
        Ok((job, blobs)) if !blobs.is_empty() => (job, blobs),
        Ok(_) => return Step::Done(ReleaseEnd::Failed, "the job has no document left".into()),
        Err(e) => return Step::Again(format!("the job could not be read: {e}")),
    };
    let target = PushTarget {
        uri: printer.uri.clone(),
        protocol: printer.protocol.parse().unwrap_or(Protocol::Auto),
        tls_pin: printer.tls_pin.clone(),
        uris_supported: list(&printer.uris_supported),
        formats: list(&printer.formats),
        multi_document: printer.multi_document,
        language: PushTarget::parse_language(printer.language.as_deref()),
        color_supported: printer.color_supported,
    };
    let push_job = PushJob {
        name: job.name.clone(),
        user_name: row.owner.clone(),
        format: job.format.clone(),
        copies: u32::try_from(row.copies).unwrap_or(1),
        sides: row.sides.clone(),
        color_mode: row.color_mode.clone(),
        page_ranges: job.page_ranges.clone(),
        media: None,
    };
    let timeouts = Timeouts::default();
    let link = match push::connect(&target, &push_job, &timeouts).await {
        Ok(link) => link,
        Err(e) => return not_delivered(e),
    };
    if target.tls_pin.is_none()
        && let Some(pin) = link.cert_sha256()
        && let Err(e) = release.db.pin_printer_certificate(printer.id, pin).await
    {
        tracing::warn!(printer = %printer.name, error = %e, "pinning the printer's certificate failed");
    }
    if let Err(e) = release
        .db
        .mark_transmitting(row.id, owner, link.protocol().as_str())
        .await
    {
        // Without the mark nothing may be sent: a crash now would look like "nothing sent".
        return Step::Again(format!("the release could not be recorded: {e}"));
    }
    let mut documents = VaultDocuments {
        vault: release.vault.clone(),
        blobs,
    };
    let sent = match link
        .send(&push_job, &mut documents, release.converter())
        .await
    {
        Ok(sent) => sent,
        Err(e) => return not_delivered(e),
    };
    let printer_job = sent.printer_job_id().map(i64::from);
    if let Err(e) = release
        .db
        .mark_sent(row.id, owner, printer_job, sent.bytes_sent() as i64)
        .await
    {
        tracing::warn!(release = row.id, error = %e, "recording a sent release failed");
    }
    let limit = Duration::from_secs(release.settings.follow_timeout_secs);
    // A job sent as one printer job per document may have printed in part.
    let split = sent.printer_job_ids().len() > 1;
    match sent.follow(limit).await {
        Completion::Completed => Step::Done(ReleaseEnd::Printed, String::new()),
        Completion::Failed(reason) if split => Step::Done(
            ReleaseEnd::NeedsAttention,
            format!("one of its documents was not printed ({reason}); the others may have been"),
        ),
        Completion::Failed(reason) => Step::Done(
            ReleaseEnd::Failed,
            format!("the printer did not print it: {reason}; the job is held again"),
        ),
        Completion::Unknown(reason) => Step::Done(
            ReleaseEnd::NeedsAttention,
            format!("sent in full, then {reason}"),
        ),
    }
}

fn not_delivered(error: PushError) -> Step {
    match error {
        PushError::NotSent { reason, .. } => Step::Again(reason),
        PushError::Refused { reason } => Step::Done(ReleaseEnd::Failed, reason),
        PushError::Interrupted { reason, .. } => Step::Done(ReleaseEnd::NeedsAttention, reason),
    }
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Renews the lease every third of its length until aborted.
fn keep_lease(release: &Release, id: i64, owner: &str, lease: i64) -> tokio::task::JoinHandle<()> {
    let db = release.db.clone();
    let owner = owner.to_string();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs((lease / 3) as u64));
        every.tick().await;
        loop {
            every.tick().await;
            if let Err(e) = db.renew_lease(id, &owner, now() + lease).await {
                tracing::warn!(release = id, error = %e, "renewing a release lease failed");
            }
        }
    })
}

/// A job's documents, decrypted from the vault as the printer takes them.
struct VaultDocuments {
    vault: Vault,
    blobs: Vec<BlobId>,
}

impl DocumentSource for VaultDocuments {
    fn count(&self) -> u32 {
        self.blobs.len() as u32
    }

    fn open(
        &mut self,
        number: u32,
    ) -> Pin<Box<dyn Future<Output = io::Result<Box<dyn AsyncRead + Send + Unpin>>> + Send + '_>>
    {
        Box::pin(async move {
            let blob = self
                .blobs
                .get(number.saturating_sub(1) as usize)
                .ok_or_else(|| io::Error::other(format!("no document {number}")))?;
            let reader = self.vault.open_blob(blob).await.map_err(io::Error::other)?;
            Ok(Box::new(reader.into_async_read()) as Box<dyn AsyncRead + Send + Unpin>)
        })
    }
}
