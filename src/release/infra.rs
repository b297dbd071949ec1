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
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;
use tokio::io::AsyncRead;

use super::worker::conclude;
use super::{Release, ReleaseError};
use crate::db::{
    DeviceReportFields, EventRow, OutputDeviceRow, PrinterRow, ReleaseEnd, ReleaseRow, now,
};
use crate::identity::{ClientInfo, User};
use crate::jobs::HeldJob;
use crate::vault::BlobId;

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
    /// client-error-not-fetchable.
    #[error("{0}")]
    NotFetchable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    NotPossible(String),
    #[error("{0}")]
    BadRequest(String),
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

fn lease_owner(device_id: i64) -> String {
    format!("device:{device_id}")
}

/// A fetched job: the release (its id is the job-id the device sees), the held job
/// it carries, and its documents.
#[derive(Debug, Clone)]
pub struct FetchedJob {
    pub release: ReleaseRow,
    pub job: HeldJob,
    pub documents: u32,
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

/// Wakes the long-polling Get-Notifications of this process.
#[derive(Debug, Default)]
pub(super) struct EventBell {
    bell: tokio::sync::Notify,
    /// Requests waiting now (the check for other processes' events runs only then).
    waiting: AtomicUsize,
}

impl EventBell {
    pub(super) fn ring(&self) {
        self.bell.notify_waiters();
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

    fn lease_until(&self) -> i64 {
        now() + self.release.settings.lease_secs as i64
    }

    // --- admin -----------------------------------------------------------------------

    /// Enrols an output device for a printer whose jobs are pulled (protocol `infra`).
    /// The secret is shown once; only its keyed hash is kept.
    pub async fn add_device(
        &self,
        admin: &User,
        printer_id: i64,
        name: &str,
        client: &ClientInfo,
    ) -> Result<NewOutputDevice, InfraError> {
        crate::identity::directory::require_admin(admin).map_err(ReleaseError::from)?;
        let printer = self.release.printers.by_id(printer_id).await?;
        if printer.protocol != "infra" {
            return Err(InfraError::NotPossible(format!(
                "{} is delivered to by the server; set its delivery to “pulled by an output device (IPP INFRA)” first",
                printer.name
            )));
        }
        let name = name.trim();
        let name = if name.is_empty() {
            format!("{} output device", printer.name)
        } else if name.chars().count() > 100 {
            return Err(InfraError::BadRequest(
                "the name is longer than 100 characters".into(),
            ));
        } else {
            name.to_string()
        };
        let login = format!("od-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let secret = crate::identity::secrets::new_token();
        let hash = self.secret_hash(&secret);
        let id = self
            .release
            .db
            .insert_output_device(printer.id, &name, &login, &hash)
            .await?;
        self.release
            .identity
            .audit(
                Some(admin),
                "output_device.add",
                &printer.name,
                "success",
                client,
                &format!("{name} ({login})"),
            )
            .await
            .map_err(ReleaseError::from)?;
        Ok(NewOutputDevice { id, login, secret })
    }

    /// Revokes a device: its credential stops working at once; what it fetched and
    /// had not fetched the document of becomes fetchable again.
    pub async fn revoke_device(
        &self,
        admin: &User,
        device_id: i64,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        crate::identity::directory::require_admin(admin).map_err(ReleaseError::from)?;
        let device = self.release.db.output_device_by_id(device_id).await?;
        self.release.db.revoke_output_device(device_id).await?;
        self.give_back(&device, "the output device was revoked")
            .await?;
        let printer = self.release.printers.by_id(device.printer_id).await?;
        self.release
            .identity
            .audit(
                Some(admin),
                "output_device.revoke",
                &printer.name,
                "success",
                client,
                &format!("{} ({})", device.name, device.login),
            )
            .await
            .map_err(ReleaseError::from)?;
        self.events.ring();
        Ok(())
    }

    /// A printer's output devices (admin).
    pub async fn devices_of(
        &self,
        admin: &User,
        printer_id: i64,
    ) -> Result<Vec<OutputDeviceRow>, InfraError> {
        crate::identity::directory::require_admin(admin).map_err(ReleaseError::from)?;
        Ok(self.release.db.output_devices_of(printer_id).await?)
    }

    // --- the device's requests ------------------------------------------------------

    fn secret_hash(&self, secret: &str) -> Vec<u8> {
        self.release
            .vault
            .keyed_hash(SECRET_PURPOSE, secret.as_bytes())
    }

    /// HTTP Basic credentials of an output device. User credentials never work here
    /// (a user is not a device), nor do a revoked device's. Every failure is audited
    /// (without the secret).
    pub async fn authenticate(
        &self,
        login: &str,
        secret: &str,
        client: &ClientInfo,
    ) -> Result<DeviceCaller, InfraError> {
        let expected = match self.release.db.output_device_by_login(login).await {
            Ok(device) => Some(device),
            Err(crate::db::DbError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let given = self.secret_hash(secret);
        let matches = expected
            .as_ref()
            .is_some_and(|d| bool::from(d.secret_hash.as_slice().ct_eq(&given)));
        let device = match expected {
            Some(device) if matches && device.revoked_at.is_none() => device,
            other => {
                let why = match other {
                    Some(d) if matches && d.revoked_at.is_some() => "revoked device",
                    Some(_) => "wrong secret",
                    None => "unknown device",
                };
                self.release
                    .identity
                    .audit(
                        None,
                        "output_device.login",
                        &login.chars().take(64).collect::<String>(),
                        "denied",
                        client,
                        why,
                    )
                    .await
                    .map_err(ReleaseError::from)?;
                return Err(InfraError::Unauthenticated);
            }
        };
        let printer = self.release.printers.by_id(device.printer_id).await?;
        self.release
            .db
            .touch_output_device(device.id, self.lease_until())
            .await?;
        Ok(DeviceCaller { device, printer })
    }

    /// Register-Output-Device: the device (re)starts. Whatever it fetched before and
    /// had not begun to download is fetchable again; what it was downloading or
    /// printing needs attention (it restarted: the outcome is unknown).
    pub async fn register(&self, caller: &DeviceCaller, uuid: &str) -> Result<(), InfraError> {
        self.release
            .db
            .register_output_device(caller.device.id, uuid)
            .await?;
        self.restarted(caller).await
    }

    async fn restarted(&self, caller: &DeviceCaller) -> Result<(), InfraError> {
        for row in self
            .release
            .db
            .releases_held_by_device(caller.device.id)
            .await?
        {
            if row.transmitting || row.state == "sent" {
                conclude(
                    &self.release,
                    &row,
                    &caller.owner(),
                    ReleaseEnd::NeedsAttention,
                    "the output device restarted while it had the job; it may have printed",
                    Duration::ZERO,
                )
                .await;
            }
        }
        self.give_back(
            &caller.device,
            "the output device restarted before fetching the document",
        )
        .await
    }

    async fn give_back(&self, device: &OutputDeviceRow, reason: &str) -> Result<(), InfraError> {
        let ids: Vec<i64> = self
            .release
            .db
            .releases_held_by_device(device.id)
            .await?
            .into_iter()
            .filter(|r| r.state == "releasing" && !r.transmitting)
            .map(|r| r.id)
            .collect();
        if !ids.is_empty() {
            self.release.db.make_fetchable_again(&ids, reason).await?;
            self.events.ring();
        }
        Ok(())
    }

    /// Deregister-Output-Device: the device leaves (its subscriptions end).
    pub async fn deregister(&self, caller: &DeviceCaller) -> Result<(), InfraError> {
        self.release
            .db
            .deregister_output_device(caller.device.id)
            .await?;
        self.give_back(
            &caller.device,
            "the output device deregistered before fetching the document",
        )
        .await
    }

    /// Update-Output-Device-Attributes: what the device says about its printer.
    pub async fn report(
        &self,
        caller: &DeviceCaller,
        report: &DeviceReportFields,
    ) -> Result<(), InfraError> {
        Ok(self
            .release
            .db
            .update_output_device_report(caller.device.id, report)
            .await?)
    }

    /// Create-Printer-Subscriptions (ippget).
    pub async fn subscribe(
        &self,
        caller: &DeviceCaller,
        events: &[&str],
    ) -> Result<i64, InfraError> {
        Ok(self
            .release
            .db
            .create_infra_subscription(caller.device.id, caller.printer.id, &events.join(","))
            .await?)
    }

    pub async fn unsubscribe(&self, caller: &DeviceCaller, id: i64) -> Result<(), InfraError> {
        self.release
            .db
            .cancel_infra_subscription(id, caller.device.id)
            .await
            .map_err(|_| InfraError::NotFound(format!("no subscription {id} of this device")))
    }

    /// Get-Notifications: the events of the device's subscriptions from the sequence
    /// numbers it asks for. With `wait`, holds the request until an event comes or
    /// `wait` passes. Woken at once by events of this process; events written by
    /// another server process are seen within a second (one shared check per process,
    /// `watch_other_processes`), so an idle device costs nothing.
    pub async fn notifications(
        &self,
        caller: &DeviceCaller,
        wanted: &[(i64, i64)],
        wait: Option<Duration>,
    ) -> Result<Vec<EventRow>, InfraError> {
        for (id, _) in wanted {
            if !self
                .release
                .db
                .infra_subscription_of(*id, caller.device.id)
                .await?
            {
                return Err(InfraError::NotFound(format!(
                    "no subscription {id} of this device"
                )));
            }
        }
        let deadline = Instant::now() + wait.unwrap_or_default().min(LONGEST_WAIT);
        loop {
            // Registered before reading, so an event written meanwhile still wakes us.
            let notified = self.events.bell.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mut events = Vec::new();
            for (id, from) in wanted {
                events.extend(
                    self.release
                        .db
                        .infra_events(*id, (*from).max(1), 100)
                        .await?,
                );
            }
            if !events.is_empty() || Instant::now() >= deadline {
                return Ok(events);
            }
            self.events.waiting.fetch_add(1, Ordering::Relaxed);
            let _ = tokio::time::timeout_at(deadline.into(), notified).await;
            self.events.waiting.fetch_sub(1, Ordering::Relaxed);
            // Keep the device's leases alive while it waits.
            self.release
                .db
                .touch_output_device(caller.device.id, self.lease_until())
                .await?;
        }
    }

    /// Wakes this process's waiting devices (a release was queued here).
    pub fn wake(&self) {
        self.events.ring();
    }

    /// Notices events written by other server processes sharing the database, and
    /// forgets old events. One cheap query a second, and only while devices wait.
    pub fn watch_other_processes(&self) -> tokio::task::JoinHandle<()> {
        let infra = self.clone();
        tokio::spawn(async move {
            let mut marker = None;
            let mut last_purge = Instant::now();
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if last_purge.elapsed() > Duration::from_secs(600) {
                    last_purge = Instant::now();
                    if let Err(e) = infra
                        .release
                        .db
                        .purge_infra_events(now() - EVENT_LIFE_SECS)
                        .await
                    {
                        tracing::warn!(error = %e, "forgetting old INFRA events failed");
                    }
                }
                if infra.events.waiting.load(Ordering::Relaxed) == 0 {
                    marker = None;
                    continue;
                }
                match infra.release.db.infra_event_marker().await {
                    Ok(now) => {
                        if marker.is_some_and(|m| m != now) {
                            infra.events.ring();
                        }
                        marker = Some(now);
                    }
                    Err(e) => tracing::debug!(error = %e, "checking for INFRA events failed"),
                }
            }
        })
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
        Ok(FetchedJob {
            release,
            job,
            documents: blobs.len() as u32,
        })
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

    /// Fetch-Document: marks the release as transmitting (from now on a silent device
    /// leaves it needing attention) and opens document `number` (from 1), decrypted
    /// chunk by chunk as it is read. Returns the job (for its format) and the reader.
    pub async fn open_document(
        &self,
        caller: &DeviceCaller,
        release_id: i64,
        number: u32,
    ) -> Result<(HeldJob, Box<dyn AsyncRead + Send + Unpin>), InfraError> {
        let row = self.held(caller, release_id).await?;
        let (job, blobs) = self.release.jobs.for_delivery(row.job_id).await?;
        let blob: &BlobId = blobs
            .get(number.saturating_sub(1) as usize)
            .filter(|_| number >= 1)
            .ok_or_else(|| {
                InfraError::NotFound(format!(
                    "job {release_id} has {} document(s), not {number}",
                    blobs.len()
                ))
            })?;
        if !row.transmitting {
            self.release
                .db
                .mark_transmitting(row.id, &caller.owner(), "infra")
                .await?;
        }
        let reader = self
            .release
            .vault
            .open_blob(blob)
            .await
            .map_err(|e| InfraError::Release(ReleaseError::Job(e.into())))?;
        Ok((job, Box::new(reader.into_async_read())))
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
                if state == job_state::PROCESSING && row.state == "releasing" && row.transmitting {
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

    /// Whether the output devices of an `infra` printer report a state that keeps a
    /// job from printing (checked before a release; a printer with no device in touch
    /// is not refused: its device fetches the jobs when it comes).
    pub async fn blocking_problem(&self, printer: &PrinterRow) -> Option<String> {
        let devices = self.release.db.output_devices_of(printer.id).await.ok()?;
        let recent = now() - 600;
        let live: Vec<&OutputDeviceRow> = devices
            .iter()
            .filter(|d| d.revoked_at.is_none() && d.last_seen_at.is_some_and(|t| t >= recent))
            .collect();
        let problems: Vec<String> = live.iter().filter_map(|d| device_problem(d)).collect();
        // Refused only when every device in touch has a problem.
        if !live.is_empty() && problems.len() == live.len() {
            problems.into_iter().next()
        } else {
            None
        }
    }
}

/// What a device's last report says keeps its printer from printing.
fn device_problem(device: &OutputDeviceRow) -> Option<String> {
    use crate::ipp::client::{PrinterReport, PrinterState};
    let state = match device.state.as_str() {
        "stopped" => PrinterState::Stopped,
        "processing" => PrinterState::Processing,
        _ => PrinterState::Idle,
    };
    PrinterReport {
        state,
        reasons: device
            .state_reasons
            .split(',')
            .filter(|r| !r.is_empty() && *r != "none")
            .map(str::to_string)
            .collect(),
        message: device.state_message.clone(),
        accepting_jobs: true,
        make_model: String::new(),
        formats: Vec::new(),
        uris_supported: Vec::new(),
        color_supported: false,
        duplex_supported: false,
        media: Vec::new(),
        multi_document: false,
        operations: Vec::new(),
        cert_sha256: None,
    }
    .blocking_problem()
}
