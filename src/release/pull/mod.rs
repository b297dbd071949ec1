//! Pull delivery (IPP INFRA, PWG 5100.18): an output device — a cloud-ready printer or
//! a proxy next to one — keeps only an outbound HTTPS connection to us, learns from
//! ippget events that a job of its printer became fetchable, fetches it, and reports
//! how printing went. Its reports drive the same release state machine as push
//! delivery (`worker.rs`): printed (documents purged), failed (held again), or
//! needs-attention (the outcome is unknown; never a second copy by itself).
//!
//! A release is fetchable only by devices of the printer it was released to, only
//! once its owner released it, and by one device at a time: Fetch-Job takes it under
//! the device's lease (renewed by every request of that device). A device that goes
//! silent before fetching the document gives it back (fetchable again, with a new
//! event); one that goes silent after leaves it needing attention.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use subtle::ConstantTimeEq;

mod agent_trust;
mod agents;
mod document;
mod events;
mod failover;
mod output_devices;
mod workstation;

pub use agent_trust::{AgentTrust, ParkScope};
pub use agents::{
    AgentAssignment, AgentCredential, AgentEnrolment, AgentHealth, AgentPrinter,
    AgentPrinterHealth, AgentView, HEARTBEAT_SECS,
};
pub use document::OpenedDocument;
pub use workstation::{AgentOrder, AgentOrders, AgentOrdersRequest, AgentOutcome, WorkstationJob};

use super::{Release, ReleaseError};
use crate::clock::now;
use crate::db::{OutputDeviceRow, PrinterRow, ReleaseEnd, ReleaseRow};
use crate::release::ReleaseState;
use crate::release::conclusion::conclude;

use crate::identity::{AuditAction, AuditEvent, AuditOutcome, ClientInfo, User};
use crate::jobs::HeldJob;

const SECRET_PURPOSE: &str = "output-device-secret";
/// How long events are kept: a device away longer starts again with Get-Jobs.
const EVENT_LIFE_SECS: i64 = 24 * 3600;
/// Longest a Get-Notifications with notify-wait waits for an event.
pub const LONGEST_WAIT: Duration = Duration::from_secs(25);

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// No, wrong or revoked device credentials (HTTP 401).
    #[error("sign in with this output device's credentials")]
    Unauthenticated,
    /// An agent enrolled and not yet approved by an admin (HTTP 403).
    #[error("this agent is waiting for an admin to approve it (Admin → Agents)")]
    AwaitingApproval,
    /// client-error-not-fetchable.
    #[error("{0}")]
    NotFetchable(String),
    /// client-error-document-format-not-supported.
    #[error("{0}")]
    FormatNotAccepted(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    NotPossible(String),
    #[error("{0}")]
    BadRequest(String),
    /// The document could not be converted into a format the device takes (the
    /// release failed; nothing was sent).
    #[error("{0}")]
    Conversion(crate::convert::ConvertError),
    #[error(transparent)]
    Release(#[from] ReleaseError),
}

impl From<crate::db::DbError> for InfraError {
    fn from(error: crate::db::DbError) -> Self {
        InfraError::Release(error.into())
    }
}

impl From<crate::jobs::JobError> for InfraError {
    fn from(error: crate::jobs::JobError) -> Self {
        InfraError::Release(error.into())
    }
}

/// A device's credentials, shown once to the admin who enrolled it.
#[derive(Debug, Clone)]
pub struct NewOutputDevice {
    pub id: i64,
    pub login: String,
    pub secret: String,
}

/// An authenticated output device and the printer it serves.
#[derive(Debug, Clone)]
pub struct DeviceCaller {
    pub device: OutputDeviceRow,
    pub printer: PrinterRow,
}

impl DeviceCaller {
    fn owner(&self) -> String {
        lease_owner(self.device.id)
    }
}

/// Compares a stored secret hash with a given one in constant time; none stored never
/// matches (output devices and agents sign in alike).
fn secret_matches(stored: Option<&[u8]>, given: &[u8]) -> bool {
    stored.is_some_and(|stored| bool::from(stored.ct_eq(given)))
}

/// The lease owner of releases a workstation agent delivers.
fn agent_owner(agent: &crate::db::AgentRow) -> String {
    format!("agent:{}", agent.id)
}

fn lease_owner(device_id: i64) -> String {
    format!("device:{device_id}")
}

/// A fetched job: the release (its id is the job-id the device sees) and the held job
/// it carries (`job.documents` says how many documents it has).
#[derive(Debug, Clone)]
pub struct FetchedJob {
    pub release: ReleaseRow,
    pub job: HeldJob,
}

/// output-device-job-state values a device reports (RFC 8011 job-state enums).
pub mod job_state {
    pub const PENDING: i32 = 3;
    pub const PROCESSING: i32 = 5;
    pub const PROCESSING_STOPPED: i32 = 6;
    pub const CANCELED: i32 = 7;
    pub const ABORTED: i32 = 8;
    pub const COMPLETED: i32 = 9;
}

/// Wakes the long-polling Get-Notifications of this process: one bell per printer,
/// so a release wakes only the devices of its printer.
#[derive(Debug, Default)]
pub(super) struct EventBell {
    bells: std::sync::Mutex<HashMap<i64, Arc<tokio::sync::Notify>>>,
    /// Requests waiting now.
    waiting: AtomicUsize,
    /// Set when the server begins to stop: long-polls answer at once (issue 20).
    stopping: std::sync::atomic::AtomicBool,
}

impl EventBell {
    fn bells(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<tokio::sync::Notify>>> {
        self.bells.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bell(&self, printer_id: i64) -> Arc<tokio::sync::Notify> {
        self.bells().entry(printer_id).or_default().clone()
    }

    /// Something happened at this printer.
    pub(super) fn ring(&self, printer_id: i64) {
        if let Some(bell) = self.bells().get(&printer_id) {
            bell.notify_waiters();
        }
    }

    /// True once the server began to stop.
    pub(super) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Something happened somewhere (another process wrote events).
    fn ring_all(&self) {
        for bell in self.bells().values() {
            bell.notify_waiters();
        }
    }
}

/// The pull side of release (`Release::infra`). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Infra {
    release: Release,
    events: Arc<EventBell>,
}

impl Infra {
    pub(super) fn new(release: Release) -> Self {
        let events = release.events.clone();
        Self { release, events }
    }

    /// The server begins to stop: every long-poll (Get-Notifications, an agent's
    /// orders) answers now with what it has, so the graceful shutdown does not wait
    /// up to 25 s for them (issue 20). Set first, then rung: a poll that registered
    /// before is woken, one that registers after sees the flag.
    pub fn end_long_polls(&self) {
        self.events.stopping.store(true, Ordering::SeqCst);
        self.events.ring_all();
    }

    /// Audits an admin's successful change to agents or output devices.
    async fn audit_admin(
        &self,
        admin: &User,
        action: AuditAction,
        target: &str,
        client: &ClientInfo,
        detail: &str,
    ) -> Result<(), InfraError> {
        self.release
            .identity
            .audit(AuditEvent {
                actor: Some(admin),
                action,
                target,
                outcome: AuditOutcome::Success,
                client,
                detail,
            })
            .await
            .map_err(|e| InfraError::from(ReleaseError::from(e)))
    }

    fn lease_until(&self) -> i64 {
        now() + self.release.settings.lease_secs as i64
    }

    /// Leases with less than three quarters of their time left are renewed: after any
    /// request of the device at least 45 s (of 60) remain, so a device that loses its
    /// network for 30 s still holds what it was printing.
    fn renew_before(&self) -> i64 {
        now() + (self.release.settings.lease_secs as i64 * 3 + 3) / 4
    }

    /// Get-Jobs which-jobs=fetchable: what the device's printer has waiting.
    pub async fn fetchable(&self, caller: &DeviceCaller) -> Result<Vec<ReleaseRow>, InfraError> {
        Ok(self
            .release
            .db
            .fetchable_releases(caller.printer.id)
            .await?)
    }

    /// Fetch-Job: takes the job under the device's lease (again, if it already has it).
    pub async fn fetch_job(
        &self,
        caller: &DeviceCaller,
        release_id: i64,
    ) -> Result<FetchedJob, InfraError> {
        let owner = caller.owner();
        let Some(release) = self
            .release
            .db
            .fetch_release(
                release_id,
                caller.printer.id,
                caller.device.id,
                &owner,
                self.lease_until(),
            )
            .await?
        else {
            return Err(InfraError::NotFetchable(format!(
                "job {release_id} is not fetchable by this output device"
            )));
        };
        let (job, blobs) = self.release.jobs.for_delivery(release.job_id).await?;
        if blobs.is_empty() {
            conclude(
                &self.release,
                &release,
                &owner,
                ReleaseEnd::Failed,
                "the job has no document left",
                Duration::ZERO,
            )
            .await;
            return Err(InfraError::NotFetchable(format!(
                "job {release_id} has no document left"
            )));
        }
        Ok(FetchedJob { release, job })
    }

    /// A job the device holds (fetched, not ended).
    async fn held(&self, caller: &DeviceCaller, release_id: i64) -> Result<ReleaseRow, InfraError> {
        let row = self
            .release
            .db
            .release_by_id(release_id)
            .await
            .map_err(|_| InfraError::NotFound(format!("no job {release_id}")))?;
        if row.printer_id != caller.printer.id {
            return Err(InfraError::NotFound(format!("no job {release_id}")));
        }
        if row.lease_owner.as_deref() != Some(caller.owner().as_str()) {
            return Err(InfraError::NotFetchable(format!(
                "job {release_id} is not fetched by this output device (fetch it first)"
            )));
        }
        Ok(row)
    }

    /// Update-Job-Status: the device's job state drives the release. Completed →
    /// printed (documents purged); canceled or aborted before the document was
    /// fetched → failed (held again); aborted or canceled after → needs attention.
    pub async fn job_status(
        &self,
        caller: &DeviceCaller,
        release_id: i64,
        state: i32,
        message: &str,
    ) -> Result<(), InfraError> {
        let row = self.held(caller, release_id).await?;
        let owner = caller.owner();
        let said = if message.is_empty() {
            String::new()
        } else {
            format!(": {}", message.chars().take(200).collect::<String>())
        };
        let (end, reason) = match state {
            job_state::PENDING | job_state::PROCESSING | job_state::PROCESSING_STOPPED => {
                if state == job_state::PROCESSING
                    && row.state == ReleaseState::Releasing
                    && row.transmitting
                {
                    self.release.db.mark_sent(row.id, &owner, None, 0).await?;
                }
                return Ok(());
            }
            job_state::COMPLETED => (
                ReleaseEnd::Printed,
                format!("printed by output device {}", caller.device.name),
            ),
            job_state::CANCELED | job_state::ABORTED if !row.transmitting => (
                ReleaseEnd::Failed,
                format!(
                    "output device {} gave the job up before fetching it{said}; the job is held again",
                    caller.device.name
                ),
            ),
            job_state::CANCELED | job_state::ABORTED => (
                ReleaseEnd::NeedsAttention,
                format!(
                    "output device {} {} the job{said}; some pages may have printed",
                    caller.device.name,
                    if state == job_state::CANCELED {
                        "canceled"
                    } else {
                        "aborted"
                    }
                ),
            ),
            other => {
                return Err(InfraError::BadRequest(format!(
                    "output-device-job-state {other} is not a job state"
                )));
            }
        };
        let elapsed = Duration::from_secs((now() - row.created_at).max(0) as u64);
        if !conclude(&self.release, &row, &owner, end, &reason, elapsed).await {
            return Err(InfraError::NotPossible(format!(
                "job {release_id} could not be updated"
            )));
        }
        Ok(())
    }

    /// Acknowledge-Job with a fetch-status-code: the device will not print the job
    /// (e.g. it cannot print its format). Nothing was printed: the job is held again.
    pub async fn refuse_job(
        &self,
        caller: &DeviceCaller,
        release_id: i64,
        why: &str,
    ) -> Result<(), InfraError> {
        let row = self.held(caller, release_id).await?;
        let reason = format!(
            "output device {} refused the job ({why}); the job is held again",
            caller.device.name
        );
        conclude(
            &self.release,
            &row,
            &caller.owner(),
            ReleaseEnd::Failed,
            &reason,
            Duration::ZERO,
        )
        .await;
        Ok(())
    }

    /// Update-Active-Jobs: of the jobs the device says it is working on, those that
    /// are no longer its own here (ended, given back, revoked) with the state the
    /// device should move them to (canceled).
    pub async fn active_jobs(
        &self,
        caller: &DeviceCaller,
        jobs: &[i64],
    ) -> Result<Vec<i64>, InfraError> {
        let held: HashMap<i64, ReleaseRow> = self
            .release
            .db
            .releases_held_by_device(caller.device.id)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        Ok(jobs
            .iter()
            .copied()
            .filter(|id| !held.contains_key(id))
            .collect())
    }
}
