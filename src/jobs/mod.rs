//! Jobs: what a parked document is, and its lifecycle from held to purged.
//! Intake here seals and indexes; format analysis and expiry arrive with the print
//! queue (see docs/architecture.md).

use tokio::io::AsyncRead;

use crate::db::{Db, DbError, JobRow, NewJob, now};
use crate::identity::{ClientInfo, Identity, IdentityError, User};
use crate::vault::{BlobId, Vault, VaultError};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("job not found")]
    NotFound,
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Db(DbError),
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
    Held,
    Deleted,
    Expired,
    Printed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Held => "held",
            JobState::Deleted => "deleted",
            JobState::Expired => "expired",
            JobState::Printed => "printed",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "held" => JobState::Held,
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
    pub copies: i64,
    pub sides: String,
    pub size_bytes: i64,
    pub source: String,
    pub state: JobState,
    pub submitted_at: i64,
    pub expires_at: i64,
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
            copies: row.copies,
            sides: row.sides,
            size_bytes: row.size_bytes,
            source: row.source,
            state: JobState::parse(&row.state),
            submitted_at: row.submitted_at,
            expires_at: row.expires_at,
            owner_id: row.owner_id,
            blob_id: row.blob_id,
        }
    }
}

/// What a client said about a document it hands in.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub name: &'a str,
    pub format: &'a str,
    pub copies: i64,
    pub sides: &'a str,
    pub source: &'a str,
}

#[derive(Clone, Debug)]
pub struct Jobs {
    db: Db,
    vault: Vault,
    identity: Identity,
    hold_secs: i64,
}

impl Jobs {
    pub fn new(db: Db, vault: Vault, identity: Identity) -> Self {
        Self {
            db,
            vault,
            identity,
            hold_secs: 24 * 3600,
        }
    }

    /// Parks a document for its owner: seal and store first, then index. The job row
    /// exists only once the blob is durable.
    pub async fn park<R: AsyncRead + Unpin>(
        &self,
        owner: &User,
        submission: &Submission<'_>,
        document: &mut R,
        client: &ClientInfo,
    ) -> Result<HeldJob, JobError> {
        let blob = BlobId::random();
        let sealed = self.vault.seal(&blob, document).await?;
        let at = now();
        let row = self
            .db
            .insert_job(&NewJob {
                uuid: blob.as_str(),
                owner_id: owner.id,
                name: submission.name,
                format: submission.format,
                pages: None,
                color: None,
                copies: submission.copies.max(1),
                sides: submission.sides,
                size_bytes: sealed.plain_size as i64,
                source: submission.source,
                client_addr: &client.addr,
                state: JobState::Held.as_str(),
                blob_id: blob.as_str(),
                submitted_at: at,
                expires_at: at + self.hold_secs,
            })
            .await;
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                let _ = self.vault.purge(&blob).await;
                return Err(e.into());
            }
        };
        self.identity
            .audit(
                Some(owner),
                "job.park",
                &row.id.to_string(),
                "success",
                client,
                submission.source,
            )
            .await?;
        Ok(row.into())
    }

    /// The owner's jobs that are still held.
    pub async fn held_jobs_of(&self, owner: &User) -> Result<Vec<HeldJob>, JobError> {
        let rows = self
            .db
            .jobs_of_owner(owner.id, Some(JobState::Held.as_str()))
            .await?;
        Ok(rows.into_iter().map(HeldJob::from).collect())
    }

    /// A job of this owner (any other owner's job is "not found").
    pub async fn job_of(&self, owner: &User, id: i64) -> Result<HeldJob, JobError> {
        let job: HeldJob = self.db.job_by_id(id).await?.into();
        if job.owner_id != owner.id {
            return Err(JobError::NotFound);
        }
        Ok(job)
    }

    /// Opens a held job's document for its owner.
    pub async fn document(
        &self,
        owner: &User,
        id: i64,
    ) -> Result<crate::vault::SealedReader<Box<dyn AsyncRead + Unpin + Send>>, JobError> {
        let job = self.job_of(owner, id).await?;
        let blob = job
            .blob_id
            .as_deref()
            .and_then(BlobId::parse)
            .ok_or(JobError::NotFound)?;
        Ok(self.vault.open_blob(&blob).await?)
    }

    /// The owner deletes a held job: the row keeps its metadata, the document is purged.
    pub async fn delete(&self, owner: &User, id: i64, client: &ClientInfo) -> Result<(), JobError> {
        let job = self.job_of(owner, id).await?;
        if job.state != JobState::Held {
            // Finished jobs keep their final state; there is no document left to delete.
            return Err(JobError::NotFound);
        }
        self.end(&job, JobState::Deleted).await?;
        self.identity
            .audit(
                Some(owner),
                "job.delete",
                &id.to_string(),
                "success",
                client,
                "",
            )
            .await?;
        Ok(())
    }

    /// Ends a job in a final state and purges its document (key first, then bytes).
    async fn end(&self, job: &HeldJob, state: JobState) -> Result<(), JobError> {
        self.db.finish_job(job.id, state.as_str(), now()).await?;
        if let Some(blob) = job.blob_id.as_deref().and_then(BlobId::parse) {
            self.vault.purge(&blob).await?;
        }
        Ok(())
    }

    /// An admin deletes a user and everything they parked.
    pub async fn delete_user_with_jobs(
        &self,
        actor: &User,
        user_id: i64,
        client: &ClientInfo,
    ) -> Result<usize, JobError> {
        crate::identity::directory::require_admin(actor)?;
        let rows = self.db.jobs_of_owner(user_id, None).await?;
        let mut purged = 0;
        for row in rows {
            let job = HeldJob::from(row);
            if job.state == JobState::Held {
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

    pub async fn count_held(&self) -> Result<i64, JobError> {
        Ok(self.db.count_jobs_in_state(JobState::Held.as_str()).await?)
    }
}
