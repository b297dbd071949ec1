//! Jobs: what a parked document is, and its lifecycle from incoming to held to
//! purged. Intake (`intake.rs`) analyses, seals and indexes; `analyse.rs` reads the
//! document's format, pages and colour as it passes.

pub mod analyse;
pub mod intake;
pub mod options;
mod pcl;
pub mod pdf;
mod quota;
mod raster;

pub use intake::{Compression, Submission};
pub use options::{ColorMode, Sides};

use tokio::io::AsyncRead;

use crate::clock::now;
use crate::config::QueueSettings;
use crate::db::{Db, DbError, JobRow};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome};
use crate::identity::{ClientInfo, Identity, IdentityError, User};
use crate::vault::{BlobId, Vault, VaultError};

/// Why a document or job was refused. The messages are sentences a person reads (the
/// portal, the API, an IPP client's status message), not internal prefixes.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("Job not found.")]
    NotFound,
    #[error("The document is larger than the {0} MiB limit.")]
    TooLarge(u64),
    #[error("You already have {0} documents waiting; release or delete some first.")]
    TooManyHeld(u32),
    #[error(
        "You already have {0} print jobs waiting or arriving (the most one person may have); release or delete some first."
    )]
    TooManyPending(u32),
    #[error(
        "Your documents waiting to print take up your whole storage allowance of {0} MiB; release or delete some first."
    )]
    OverQuota(u64),
    #[error("A print job may have at most {0} documents; send the rest as a new job.")]
    TooManyDocuments(u32),
    /// The client stopped sending (hung up, or paused past the idle time-out): the
    /// half-received document was discarded.
    #[error("The document stopped arriving and was discarded ({0}).")]
    Interrupted(String),
    #[error("The document could not be decompressed: {0}.")]
    Compression(String),
    /// The format found in the document's first bytes (not the name or the declared
    /// type) is not one this way in takes.
    #[error("PrintPark does not take {} here.", format_kind(.0))]
    FormatNotAccepted(&'static str),
    /// An upload with no bytes at all (the portal).
    #[error("The document is empty.")]
    Empty,
    #[error(transparent)]
    Copies(#[from] options::CopiesError),
    #[error("The job cannot take this document now: {0}.")]
    NotPossible(&'static str),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Db(DbError),
}

/// A document format as a person names it, with its article ("a text file").
pub fn format_kind(mime: &str) -> &'static str {
    match mime {
        "application/pdf" => "a PDF",
        "image/jpeg" => "a JPEG image",
        "image/png" => "a PNG image",
        "application/postscript" => "a PostScript file",
        "application/vnd.hp-PCL" => "a PCL print file",
        "image/pwg-raster" => "a PWG raster file",
        "image/urf" => "an Apple raster (URF) file",
        "text/plain" => "a text file",
        _ => "a file of a kind PrintPark cannot read",
    }
}

/// A format's short name in a list ("PDF", "JPEG").
fn format_short(mime: &str) -> &'static str {
    match mime {
        "application/pdf" => "PDF",
        "image/jpeg" => "JPEG",
        "image/png" => "PNG",
        "application/postscript" => "PostScript",
        "application/vnd.hp-PCL" => "PCL",
        "image/pwg-raster" => "PWG raster",
        "image/urf" => "URF",
        _ => "other",
    }
}

/// "PDF, JPEG and PNG".
pub fn format_list(formats: &[&str]) -> String {
    let names: Vec<&str> = formats.iter().map(|f| format_short(f)).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    }
}

/// What a file is, by what the person's computer said of it: its declared type, or
/// its name's extension ("notes.txt" is a text file, "cv.docx" a Word document).
fn declared_kind(file: &str, declared: &str) -> &'static str {
    let extension = file
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match (declared, extension.as_str()) {
        ("application/pdf", _) | (_, "pdf") => "application/pdf",
        ("image/jpeg", _) | (_, "jpg" | "jpeg") => "image/jpeg",
        ("image/png", _) | (_, "png") => "image/png",
        (d, _) if d.starts_with("text/") => "text/plain",
        (_, "txt" | "text" | "csv" | "md" | "log") => "text/plain",
        (_, "doc" | "docx" | "odt" | "rtf") => "word",
        (_, "xls" | "xlsx" | "ods") => "sheet",
        (_, "ppt" | "pptx" | "odp") => "slides",
        (_, "ps" | "eps") => "application/postscript",
        _ => "",
    }
}

impl JobError {
    /// The refusal of an uploaded file, naming it: "notes.txt is a text file;
    /// PrintPark takes PDF, JPEG and PNG files here." `None` when the general
    /// message says it (prefixed with the file's name by the caller).
    pub fn for_file(&self, file: &str, declared: &str) -> Option<String> {
        let takes = format_list(intake::PORTAL_FORMATS);
        match self {
            JobError::Empty => Some(format!("{file} is empty.")),
            // The bytes decide what the file is; when they are no format at all,
            // what the person's computer called it says what they meant.
            JobError::FormatNotAccepted("application/octet-stream") => {
                let claimed = declared_kind(file, declared);
                if intake::PORTAL_FORMATS.contains(&claimed) {
                    let what = format_short(claimed);
                    return Some(format!(
                        "{file} is not a valid {what}; PrintPark takes {takes} files here."
                    ));
                }
                let kind = match claimed {
                    "word" => "a Word or text-processor document",
                    "sheet" => "a spreadsheet",
                    "slides" => "a presentation",
                    "text/plain" => "a text file",
                    _ => "a file of a kind PrintPark cannot read",
                };
                Some(format!(
                    "{file} is {kind}; PrintPark takes {takes} files here."
                ))
            }
            JobError::FormatNotAccepted(found) => Some(format!(
                "{file} is {}; PrintPark takes {takes} files here.",
                format_kind(found)
            )),
            _ => None,
        }
    }
}

impl From<DbError> for JobError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NotFound => JobError::NotFound,
            other => JobError::Db(other),
        }
    }
}

/// The states of a job. Only `Held` jobs have a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Created (IPP Create-Job), waiting for its document.
    Incoming,
    Held,
    /// Released to a printer; a delivery is under way.
    Releasing,
    /// A delivery's outcome is unknown (bytes may have reached the printer): an admin
    /// decides between releasing it again and counting it printed.
    NeedsAttention,
    Deleted,
    Expired,
    Printed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Incoming => "incoming",
            JobState::Held => "held",
            JobState::Releasing => "releasing",
            JobState::NeedsAttention => "needs-attention",
            JobState::Deleted => "deleted",
            JobState::Expired => "expired",
            JobState::Printed => "printed",
        }
    }

    /// Printed, deleted or expired: no document is left.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Deleted | JobState::Expired | JobState::Printed
        )
    }

    fn parse(text: &str) -> Self {
        match text {
            "incoming" => JobState::Incoming,
            "held" => JobState::Held,
            "releasing" => JobState::Releasing,
            "needs-attention" => JobState::NeedsAttention,
            "expired" => JobState::Expired,
            "printed" => JobState::Printed,
            _ => JobState::Deleted,
        }
    }
}

/// A job as its owner sees it (metadata only; the document is sealed in the vault).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct HeldJob {
    pub id: i64,
    pub name: String,
    pub format: String,
    pub pages: Option<i64>,
    pub color: Option<bool>,
    /// What the owner asked for: `auto`, `color` or `monochrome`.
    #[schema(value_type = String)]
    pub color_mode: ColorMode,
    pub copies: i64,
    #[schema(value_type = String)]
    pub sides: Sides,
    pub size_bytes: i64,
    pub source: String,
    pub state: JobState,
    pub submitted_at: i64,
    pub expires_at: i64,
    /// How many documents the job has (IPP multi-document jobs have several).
    pub documents: i64,
    /// Why pages or colour are unknown, when they are (e.g. a PDF whose page tree
    /// could not be read); never document content.
    pub analysis_note: Option<String>,
    /// The pages to print (`1-3,7-7`), `None` = all.
    pub page_ranges: Option<String>,
    /// When the job ended (printed, deleted, expired); IPP shows it as job history.
    pub finished_at: Option<i64>,
    #[serde(skip)]
    owner_id: i64,
    #[serde(skip)]
    blob_id: Option<String>,
}

impl From<JobRow> for HeldJob {
    fn from(row: JobRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            format: row.format,
            pages: row.pages,
            color: row.color,
            // Written only from the enums: other text (none is expected) reads as
            // the default, as an unknown job state reads as deleted.
            color_mode: ColorMode::parse(&row.color_mode).unwrap_or_default(),
            copies: row.copies,
            sides: Sides::parse(&row.sides).unwrap_or_default(),
            size_bytes: row.size_bytes,
            source: row.source,
            state: JobState::parse(&row.state),
            submitted_at: row.submitted_at,
            expires_at: row.expires_at,
            documents: row.documents,
            analysis_note: row.analysis_note,
            page_ranges: row.page_ranges,
            finished_at: row.finished_at,
            owner_id: row.owner_id,
            blob_id: row.blob_id,
        }
    }
}

/// A job created without its document (IPP Create-Job) is aborted after this long
/// without a document from its client (the queue's `multiple-operation-time-out`).
pub const INCOMING_TIMEOUT_SECS: i64 = 300;

#[derive(Clone, Debug)]
pub struct Jobs {
    db: Db,
    vault: Vault,
    identity: Identity,
    queue: QueueSettings,
    pdf: pdf::PdfAnalyser,
}

impl Jobs {
    pub fn new(db: Db, vault: Vault, identity: Identity, queue: QueueSettings) -> Self {
        let pdf = pdf::PdfAnalyser::new(queue.analyser_exe.clone());
        Self {
            db,
            vault,
            identity,
            queue,
            pdf,
        }
    }

    /// The owner's jobs that are still held.
    pub async fn held_jobs_of(&self, owner: &User) -> Result<Vec<HeldJob>, JobError> {
        let rows = self
            .db
            .jobs_of_owner(owner.id, Some(JobState::Held.as_str()))
            .await?;
        Ok(rows.into_iter().map(HeldJob::from).collect())
    }

    /// Jobs not finished yet (incoming, held, being released or needing attention),
    /// newest first.
    pub async fn active_jobs_of(&self, owner: &User) -> Result<Vec<HeldJob>, JobError> {
        Ok(self
            .all_jobs_of(owner)
            .await?
            .into_iter()
            .filter(|j| !j.state.is_final())
            .collect())
    }

    /// Jobs that ended (printed, deleted, expired), newest first.
    pub async fn finished_jobs_of(&self, owner: &User) -> Result<Vec<HeldJob>, JobError> {
        Ok(self
            .all_jobs_of(owner)
            .await?
            .into_iter()
            .filter(|j| j.state.is_final())
            .collect())
    }

    pub async fn all_jobs_of(&self, owner: &User) -> Result<Vec<HeldJob>, JobError> {
        Ok(self
            .db
            .jobs_of_owner(owner.id, None)
            .await?
            .into_iter()
            .map(HeldJob::from)
            .collect())
    }

    /// A job of this owner (any other owner's job is "not found").
    pub async fn job_of(&self, owner: &User, id: i64) -> Result<HeldJob, JobError> {
        let job: HeldJob = self.db.job_by_id(id).await?.into();
        if job.owner_id != owner.id {
            return Err(JobError::NotFound);
        }
        Ok(job)
    }

    /// Opens document `number` (from 1) of a held job for its owner.
    pub async fn document(
        &self,
        owner: &User,
        id: i64,
        number: i64,
    ) -> Result<crate::vault::SealedReader<Box<dyn AsyncRead + Unpin + Send>>, JobError> {
        let job = self.job_of(owner, id).await?;
        let blob = self
            .blobs_of(&job)
            .await?
            .into_iter()
            .nth(usize::try_from(number - 1).map_err(|_| JobError::NotFound)?)
            .ok_or(JobError::NotFound)?;
        Ok(self.vault.open_blob(&blob).await?)
    }

    /// The sealed blobs of a job's documents, in document order.
    async fn blobs_of(&self, job: &HeldJob) -> Result<Vec<BlobId>, JobError> {
        let mut blobs: Vec<BlobId> = job
            .blob_id
            .as_deref()
            .and_then(BlobId::parse)
            .into_iter()
            .collect();
        if job.documents > 1 {
            for row in self.db.further_documents(job.id).await? {
                blobs.extend(row.blob_id.as_deref().and_then(BlobId::parse));
            }
        }
        Ok(blobs)
    }

    /// The owner deletes a held job: the row keeps its metadata, the document is purged.
    pub async fn delete(&self, owner: &User, id: i64, client: &ClientInfo) -> Result<(), JobError> {
        let job = self.job_of(owner, id).await?;
        if !matches!(
            job.state,
            JobState::Held | JobState::Incoming | JobState::NeedsAttention
        ) {
            // Finished jobs keep their final state; there is no document left to delete.
            return Err(JobError::NotFound);
        }
        self.end(&job, JobState::Deleted).await?;
        self.identity
            .audit(AuditEvent {
                actor: Some(owner),
                action: AuditAction::JobDelete,
                target: &id.to_string(),
                outcome: AuditOutcome::Success,
                client,
                detail: "",
            })
            .await?;
        Ok(())
    }

    /// Ends a job in a final state and purges its documents (key first, then bytes).
    async fn end(&self, job: &HeldJob, state: JobState) -> Result<(), JobError> {
        let blobs = self.blobs_of(job).await?;
        self.db.finish_job(job.id, state.as_str(), now()).await?;
        for blob in &blobs {
            self.vault.purge(blob).await?;
        }
        Ok(())
    }

    /// A job and its sealed documents, for the release orchestrator (which checked
    /// ownership when the release was made).
    pub async fn for_delivery(&self, id: i64) -> Result<(HeldJob, Vec<BlobId>), JobError> {
        let job: HeldJob = self.db.job_by_id(id).await?.into();
        let blobs = self.blobs_of(&job).await?;
        Ok((job, blobs))
    }

    /// The printer completed the job: key and bytes are purged, the metadata stays
    /// (as printed) for analytics.
    pub async fn purge_printed(&self, id: i64) -> Result<(), JobError> {
        let job: HeldJob = self.db.job_by_id(id).await?.into();
        self.end(&job, JobState::Printed).await
    }

    /// An admin deletes a user and everything they parked.
    pub async fn delete_user_with_jobs(
        &self,
        actor: &User,
        user_id: i64,
        client: &ClientInfo,
    ) -> Result<usize, JobError> {
        crate::identity::people::require_admin(actor)?;
        let rows = self.db.jobs_of_owner(user_id, None).await?;
        let mut purged = 0;
        for row in rows {
            let job = HeldJob::from(row);
            if !job.state.is_final() {
                self.end(&job, JobState::Deleted).await?;
                purged += 1;
            }
        }
        self.identity
            .delete_user(
                actor,
                user_id,
                client,
                &format!("{purged} held job(s) purged"),
            )
            .await?;
        Ok(purged)
    }

    /// Purges sealed blobs that no job points at and that are older than `min_age_secs`
    /// (so intake in flight is spared): what a crash between sealing and indexing leaves
    /// behind. Returns how many were purged.
    pub async fn sweep_unindexed_blobs(&self, min_age_secs: i64) -> Result<usize, JobError> {
        // Reservations of uploads a crash cut off (they stopped counting already).
        self.db.sweep_stale_reservations(now()).await?;
        let ids = self
            .db
            .unreferenced_sealed_blobs(now() - min_age_secs)
            .await?;
        for id in &ids {
            if let Some(blob) = BlobId::parse(id) {
                self.vault.purge(&blob).await?;
            }
        }
        Ok(ids.len())
    }

    /// Ends every job whose hold time is over at `at` (now, in service): purged (blob and key), metadata kept as
    /// "expired" — a print avoided. Returns how many expired.
    pub async fn expire_due(&self, at: i64) -> Result<usize, JobError> {
        let mut expired = 0;
        loop {
            let due = self
                .db
                .jobs_due_for_expiry(at, at - INCOMING_TIMEOUT_SECS, 100)
                .await?;
            if due.is_empty() {
                return Ok(expired);
            }
            for row in due {
                let job = HeldJob::from(row);
                // A job whose document never came is aborted, not a print avoided.
                let (state, action) = match job.state {
                    JobState::Incoming => (JobState::Deleted, AuditAction::JobAbort),
                    _ => (JobState::Expired, AuditAction::JobExpire),
                };
                self.end(&job, state).await?;
                self.identity
                    .audit(AuditEvent {
                        actor: None,
                        action,
                        target: &job.id.to_string(),
                        outcome: AuditOutcome::Success,
                        client: &ClientInfo {
                            addr: "system".into(),
                            user_agent: String::new(),
                        },
                        detail: &format!("owner {}", job.owner_id),
                    })
                    .await?;
                expired += 1;
            }
        }
    }

    /// Jobs and pages never printed because nobody released them.
    pub async fn abandoned_totals(&self) -> Result<(i64, i64), JobError> {
        Ok(self.db.abandoned_totals().await?)
    }

    /// Records that a client asked the (virtual) queue to identify itself.
    pub async fn note_identify_request(
        &self,
        who: &User,
        client: &ClientInfo,
    ) -> Result<(), JobError> {
        self.identity
            .audit(AuditEvent {
                actor: Some(who),
                action: AuditAction::QueueIdentify,
                target: "secure queue",
                outcome: AuditOutcome::Success,
                client,
                detail: "virtual queue: nothing to show",
            })
            .await?;
        Ok(())
    }

    pub async fn count_held(&self) -> Result<i64, JobError> {
        Ok(self.db.count_jobs_in_state(JobState::Held.as_str()).await?)
    }
}

#[cfg(test)]
mod wording_tests {
    use super::*;

    #[test]
    fn a_refused_upload_says_what_the_file_is_and_what_is_taken() {
        let refused = |file: &str, declared: &str, found: &'static str| {
            JobError::FormatNotAccepted(found)
                .for_file(file, declared)
                .unwrap()
        };
        assert_eq!(
            refused("notes.txt", "text/plain", "application/octet-stream"),
            "notes.txt is a text file; PrintPark takes PDF, JPEG and PNG files here."
        );
        assert_eq!(
            refused("fake.pdf", "application/pdf", "application/octet-stream"),
            "fake.pdf is not a valid PDF; PrintPark takes PDF, JPEG and PNG files here."
        );
        assert_eq!(
            refused(
                "document-a4.ps",
                "application/pdf",
                "application/postscript"
            ),
            "document-a4.ps is a PostScript file; PrintPark takes PDF, JPEG and PNG files here."
        );
        assert_eq!(
            refused("cv.docx", "", "application/octet-stream"),
            "cv.docx is a Word or text-processor document; PrintPark takes PDF, JPEG and PNG files here."
        );
        assert_eq!(
            JobError::Empty
                .for_file("empty.pdf", "application/pdf")
                .unwrap(),
            "empty.pdf is empty."
        );
        assert!(JobError::TooLarge(1).for_file("big.pdf", "").is_none());
    }
}
