//! Release: a person proved who they are at a printer and asked for their jobs; this
//! module checks the printer, queues one release per job, and delivers them.
//!
//! A release moves queued → releasing → sent → printed | failed | needs-attention
//! (the machine and its allowed moves: `state.rs`).
//! Workers (in every server process) take releases under database leases
//! (`db/releases.rs`), so a crash or a second server never delivers a job twice: a
//! release whose bytes may have reached the printer when its outcome became unknown
//! goes to needs-attention, never to an automatic second copy.

mod conclusion;
pub mod printers;
pub mod pull;
pub mod push;
pub mod state;
mod worker;

use std::sync::Arc;

use crate::clock::now;
use crate::config::ReleaseSettings;
use crate::db::{Db, DbError, PrinterRow, ReleaseItem, ReleaseRow};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome};
use crate::identity::{ClientInfo, Identity, IdentityError, User};
use crate::jobs::{ColorMode, HeldJob, JobError, JobState, Jobs, Sides};
use crate::vault::Vault;

pub use printers::{PrinterForm, Printers};
pub use pull::{
    AgentAssignment, AgentCredential, AgentEnrolment, AgentHealth, AgentOrder, AgentOrders,
    AgentOrdersRequest, AgentOutcome, AgentPrinter, AgentPrinterHealth, AgentView, DeviceCaller,
    FetchedJob, HEARTBEAT_SECS, Infra, InfraError, NewOutputDevice, WorkstationJob,
};
pub use pull::{AgentTrust, ParkScope};
pub use state::ReleaseState;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("printer not found")]
    PrinterNotFound,
    #[error("this printer is disabled; choose another one")]
    PrinterDisabled,
    /// The printer is jammed, out of paper, stopped or offline: jobs stay held.
    #[error("{0} Your documents stay held; try another printer or ask for help.")]
    PrinterNotReady(String),
    #[error("you have no held documents to print here")]
    NothingToRelease,
    #[error("{0}")]
    NotAllowed(String),
    #[error("release not found")]
    NotFound,
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for ReleaseError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NotFound => ReleaseError::NotFound,
            other => ReleaseError::Db(other),
        }
    }
}

/// How a person asked: which channel, for the audit log and analytics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseVia {
    Station,
    Phone,
    Admin,
    /// The printer's own panel or card reader (an output device's app).
    Device,
}

impl ReleaseVia {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseVia::Station => "station",
            ReleaseVia::Phone => "phone",
            ReleaseVia::Admin => "admin",
            ReleaseVia::Device => "device",
        }
    }
}

/// What the owner wants printed of one held job; `None` keeps what was submitted.
#[derive(Debug, Clone, Default)]
pub struct JobChoice {
    pub job_id: i64,
    pub copies: Option<i64>,
    /// Switch to monochrome.
    pub mono: bool,
    /// Switch to two-sided.
    pub duplex: bool,
}

/// The release service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Release {
    db: Db,
    jobs: Jobs,
    vault: Vault,
    identity: Identity,
    printers: Printers,
    settings: ReleaseSettings,
    /// Issue 17: converts a job into what the printer takes, on its way out.
    converter: crate::convert::Converter,
    wake: Arc<tokio::sync::Notify>,
    events: Arc<pull::EventBell>,
}

impl Release {
    pub fn new(
        db: Db,
        jobs: Jobs,
        vault: Vault,
        identity: Identity,
        printers: Printers,
        settings: ReleaseSettings,
        converter: crate::convert::Converter,
    ) -> Self {
        Self {
            db,
            jobs,
            vault,
            identity,
            printers,
            settings,
            converter,
            wake: Arc::new(tokio::sync::Notify::new()),
            events: Arc::new(pull::EventBell::default()),
        }
    }

    /// Pull delivery: what output devices of `infra` printers use (IPP INFRA).
    pub fn infra(&self) -> Infra {
        Infra::new(self.clone())
    }

    /// The converter deliveries use (issue 17).
    pub fn converter(&self) -> &crate::convert::Converter {
        &self.converter
    }

    pub fn printers(&self) -> &Printers {
        &self.printers
    }

    /// Releases every held job of the user to the printer ("Print all").
    pub async fn release_all(
        &self,
        user: &User,
        printer_guid: &str,
        via: ReleaseVia,
        client: &ClientInfo,
    ) -> Result<Vec<i64>, ReleaseError> {
        // Oldest first: the order people printed in.
        let choices: Vec<JobChoice> = self
            .jobs
            .held_jobs_of(user)
            .await?
            .into_iter()
            .rev()
            .map(|job| JobChoice {
                job_id: job.id,
                ..Default::default()
            })
            .collect();
        self.release(user, printer_guid, &choices, via, client)
            .await
    }

    /// Releases some of the user's held jobs to the printer, each possibly made
    /// cheaper (mono, duplex, fewer copies). The printer is asked for its state first:
    /// a jammed, empty, stopped or unreachable printer refuses the release at once and
    /// the jobs stay held. Returns the release ids, in the order of `choices`.
    pub async fn release(
        &self,
        user: &User,
        printer_guid: &str,
        choices: &[JobChoice],
        via: ReleaseVia,
        client: &ClientInfo,
    ) -> Result<Vec<i64>, ReleaseError> {
        let printer = self.printers.usable(printer_guid).await?;
        let mut items = Vec::with_capacity(choices.len());
        for choice in choices {
            // Someone else's job is "not found", like a job that does not exist.
            let job = self.jobs.job_of(user, choice.job_id).await?;
            if job.state != JobState::Held {
                continue;
            }
            items.push(cheaper_item(&job, choice)?);
        }
        if items.is_empty() {
            return Err(ReleaseError::NothingToRelease);
        }
        // Delivered in the order they were printed (job ids grow with submission).
        items.sort_by_key(|item| item.job_id);
        let ready = if printer.protocol == "infra" {
            self.infra()
                .blocking_problem(&printer)
                .await
                .map_or(Ok(()), Err)
        } else {
            self.printers.check_ready(&printer).await
        };
        if let Err(problem) = ready {
            self.identity
                .audit(AuditEvent {
                    actor: Some(user),
                    action: AuditAction::ReleaseRefused,
                    target: &printer.name,
                    outcome: AuditOutcome::Denied,
                    client,
                    detail: &format!("{} job(s) stay held: {problem}", items.len()),
                })
                .await?;
            return Err(ReleaseError::PrinterNotReady(problem));
        }
        let ids = self
            .db
            .create_releases(user.id, printer.id, via.as_str(), &items)
            .await?;
        if ids.is_empty() {
            return Err(ReleaseError::NothingToRelease);
        }
        self.identity
            .audit(AuditEvent {
                actor: Some(user),
                action: AuditAction::ReleaseRequest,
                target: &printer.name,
                outcome: AuditOutcome::Success,
                client,
                detail: &format!("{} job(s) via {}", ids.len(), via.as_str()),
            })
            .await?;
        metrics::counter!("printpark_releases_total", "via" => via.as_str())
            .increment(ids.len() as u64);
        self.wake.notify_one();
        self.events.ring(printer.id);
        Ok(ids)
    }

    /// The user's releases of the last `secs` seconds, newest first (progress pages).
    pub async fn recent_of(&self, user: &User, secs: i64) -> Result<Vec<ReleaseRow>, ReleaseError> {
        Ok(self.db.releases_of_user(user.id, now() - secs).await?)
    }

    /// Failed releases and those that need attention, newest first (admin).
    pub async fn problems(&self, admin: &User) -> Result<Vec<ReleaseRow>, ReleaseError> {
        crate::identity::people::require_admin(admin)?;
        Ok(self
            .db
            .releases_in_states(&[ReleaseState::Failed, ReleaseState::NeedsAttention], 200)
            .await?)
    }

    /// An admin sends a failed or interrupted release again (to the same printer,
    /// with the same choices). For one that needs attention the admin confirms that
    /// the printer did not print it.
    pub async fn retry(
        &self,
        admin: &User,
        release_id: i64,
        client: &ClientInfo,
    ) -> Result<i64, ReleaseError> {
        crate::identity::people::require_admin(admin)?;
        let old = self.db.release_by_id(release_id).await?;
        if old.state == ReleaseState::NeedsAttention {
            self.db
                .resolve_attention(release_id, "held", " — an administrator sent it again")
                .await?;
        }
        let item = ReleaseItem {
            job_id: old.job_id,
            copies: old.copies,
            sides: old.sides.clone(),
            color_mode: old.color_mode.clone(),
        };
        let ids = self
            .db
            .create_releases(
                old.user_id,
                old.printer_id,
                ReleaseVia::Admin.as_str(),
                &[item],
            )
            .await?;
        let id = *ids.first().ok_or_else(|| {
            ReleaseError::NotAllowed("this job is no longer held; it cannot be sent again".into())
        })?;
        self.identity
            .audit(AuditEvent {
                actor: Some(admin),
                action: AuditAction::ReleaseRetry,
                target: &old.job_id.to_string(),
                outcome: AuditOutcome::Success,
                client,
                detail: &format!("release {release_id} → {id}"),
            })
            .await?;
        self.wake.notify_one();
        self.events.ring(old.printer_id);
        Ok(id)
    }

    /// An admin confirms that a job whose delivery was interrupted did print.
    pub async fn confirm_printed(
        &self,
        admin: &User,
        release_id: i64,
        client: &ClientInfo,
    ) -> Result<(), ReleaseError> {
        crate::identity::people::require_admin(admin)?;
        let job_id = self
            .db
            .resolve_attention(
                release_id,
                "printed",
                " — an administrator confirmed it printed",
            )
            .await?;
        self.jobs.purge_printed(job_id).await?;
        self.identity
            .audit(AuditEvent {
                actor: Some(admin),
                action: AuditAction::ReleaseConfirmPrinted,
                target: &job_id.to_string(),
                outcome: AuditOutcome::Success,
                client,
                detail: "",
            })
            .await?;
        Ok(())
    }

    /// Starts the delivery workers of this process (and the lease sweeper).
    pub fn spawn_workers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = worker::spawn(self.clone());
        handles.push(self.infra().watch_other_processes());
        handles
    }

    /// Wakes the workers (a release was queued by this process).
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }
}

/// The owner's changes, allowed only when they cost no more than what was submitted.
fn cheaper_item(job: &HeldJob, choice: &JobChoice) -> Result<ReleaseItem, ReleaseError> {
    let copies = match choice.copies {
        Some(n) if n < 1 => {
            return Err(ReleaseError::NotAllowed(
                "at least one copy must be printed".into(),
            ));
        }
        Some(n) if n > job.copies => {
            return Err(ReleaseError::NotAllowed(format!(
                "“{}” was submitted with {} copies; more can only be printed by printing it again",
                job.name, job.copies
            )));
        }
        Some(n) => n,
        None => job.copies,
    };
    let sides = if choice.duplex && !job.sides.is_two_sided() {
        Sides::TwoSidedLongEdge
    } else {
        job.sides
    };
    let color_mode = if choice.mono {
        ColorMode::Monochrome
    } else {
        job.color_mode
    };
    Ok(ReleaseItem {
        job_id: job.id,
        copies,
        sides: sides.as_str().to_string(),
        color_mode: color_mode.as_str().to_string(),
    })
}

/// A printer's URI and state, as the release pages show it.
pub fn printer_state_label(printer: &PrinterRow) -> &'static str {
    if printer.protocol == "infra" {
        // Never contacted by the server: its output devices report (printer page).
        return "Pulled by its output device";
    }
    match printer.state.as_str() {
        "idle" => "Ready",
        "processing" => "Printing",
        "stopped" => "Stopped",
        "unreachable" => "Unreachable",
        _ => "Not checked yet",
    }
}
