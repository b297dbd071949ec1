//! Failover copies of workstation jobs: the keeping agent may leave a copy sealed with
//! the site key (the server cannot open it, and seals it once more), so another agent
//! holding the same site key can deliver the job while the keeper is away.

use super::{Infra, InfraError, agent_owner};
use crate::db::AgentRow;
use crate::release::ReleaseError;

impl Infra {
    /// Stores the failover copy of a job the agent keeps: bytes sealed with the site
    /// key (the server cannot open them), sealed once more by the vault.
    pub async fn store_failover_copy<R: tokio::io::AsyncRead + Unpin>(
        &self,
        agent: &AgentRow,
        job_id: i64,
        wrapped_key: &str,
        reader: &mut R,
    ) -> Result<(), InfraError> {
        if !self.release.settings.agent_failover_copy {
            return Err(InfraError::NotPossible(
                "failover copies are off (release.agent_failover_copy)".into(),
            ));
        }
        match self.release.db.job_holder(job_id).await? {
            Some((holder, _)) if holder == agent.id => {}
            _ => {
                return Err(InfraError::NotFound(format!(
                    "job {job_id} is not kept by this agent"
                )));
            }
        }
        if wrapped_key.is_empty() || wrapped_key.len() > 512 {
            return Err(InfraError::BadRequest("X-Wrapped-Key is required".into()));
        }
        // The sealed copy is a little larger than the document (16 bytes a chunk).
        let limit = self.release.jobs.max_bytes() + self.release.jobs.max_bytes() / 64 + 4096;
        let id = crate::vault::BlobId::random();
        let mut capped = tokio::io::AsyncReadExt::take(reader, limit + 1);
        let sealed = self
            .release
            .vault
            .seal(&id, &mut capped)
            .await
            .map_err(|e| InfraError::Release(ReleaseError::Job(e.into())))?;
        if sealed.plain_size > limit {
            let _ = self.release.vault.purge(&id).await;
            return Err(InfraError::BadRequest(format!(
                "the copy is larger than queue.max_job_mib allows ({} MiB)",
                limit / (1024 * 1024)
            )));
        }
        if !self
            .release
            .db
            .set_failover_copy(job_id, agent.id, id.as_str(), wrapped_key)
            .await?
        {
            let _ = self.release.vault.purge(&id).await;
            return Err(InfraError::NotPossible(format!(
                "job {job_id} is no longer waiting"
            )));
        }
        Ok(())
    }

    /// The failover copy of a release this agent took: the wrapped key and the bytes
    /// (still sealed with the site key).
    pub async fn open_failover_copy(
        &self,
        agent: &AgentRow,
        job_id: i64,
    ) -> Result<(String, Box<dyn tokio::io::AsyncRead + Send + Unpin>), InfraError> {
        let owner = agent_owner(agent);
        let taken = self
            .release
            .db
            .releases_held_by_owner(&owner)
            .await?
            .iter()
            .any(|r| r.job_id == job_id);
        if !taken {
            return Err(InfraError::NotFetchable(format!(
                "take a release of job {job_id} first"
            )));
        }
        let (blob, key) = self
            .release
            .db
            .failover_copy(job_id)
            .await?
            .ok_or_else(|| InfraError::NotFound(format!("job {job_id} has no failover copy")))?;
        let id = crate::vault::BlobId::parse(&blob)
            .ok_or_else(|| InfraError::NotFound("bad blob id".into()))?;
        let reader = self
            .release
            .vault
            .open_blob(&id)
            .await
            .map_err(|e| InfraError::Release(ReleaseError::Job(e.into())))?;
        Ok((key, Box::new(reader.into_async_read())))
    }
}
