//! What workstation agents deliver: jobs whose document stays on the agent's
//! workstation, the orders an agent picks up at its heartbeat (its own jobs' releases,
//! and others' through a failover copy), and the leases of the releases it delivers.

use super::{Db, DbResult, JobRow, NewJob, ReleaseRow, ReleaseState, on_backend};
use crate::clock::now;

/// A release a workstation agent is to deliver.
#[derive(Debug, Clone)]
pub struct AgentOrderRow {
    pub release: ReleaseRow,
    /// The agent's name for the sealed document.
    pub agent_ref: String,
    pub printer_uri: String,
    /// The printer's language setting (raw printers), for the agent's conversion.
    pub printer_language: Option<String>,
    pub format: String,
    /// The keeping agent is away: deliver from the failover copy.
    pub failover: bool,
}

impl Db {
    // --- jobs kept on a workstation ----------------------------------------------------

    /// A job whose document stays on the agent's workstation: inserted `incoming`
    /// (never releasable half-made), then marked held by the agent.
    pub async fn insert_workstation_job(
        &self,
        job: &NewJob<'_>,
        agent_id: i64,
        agent_ref: &str,
    ) -> DbResult<JobRow> {
        let row = self
            .insert_job(&NewJob {
                state: "incoming",
                ..job.clone()
            })
            .await?;
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET state = 'held', held_by_agent = $1, agent_ref = $2 WHERE id = $3",
            )
            .bind(agent_id)
            .bind(agent_ref)
            .bind(row.id)
            .execute(pool)
            .await?;
        });
        self.job_by_id(row.id).await
    }

    /// The agent that keeps a job's document, and its name for it.
    pub async fn job_holder(&self, job_id: i64) -> DbResult<Option<(i64, String)>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, (Option<i64>, Option<String>)>(
                "SELECT held_by_agent, agent_ref FROM jobs WHERE id = $1",
            )
            .bind(job_id)
            .fetch_optional(pool)
            .await?
        })
        .and_then(|(agent, reference)| Some((agent?, reference.unwrap_or_default()))))
    }

    /// Releases this agent is to deliver, oldest first: those of jobs it keeps, and —
    /// when it holds the site key — those of jobs with a failover copy whose agent has
    /// not been heard from since `away_before`. Each with the agent's name for the
    /// document, the printer's URI and whether it comes from the failover copy.
    pub async fn agent_orders(
        &self,
        agent_id: i64,
        site_key_id: &str,
        away_before: i64,
    ) -> DbResult<Vec<AgentOrderRow>> {
        let sql = format!(
            "{} WHERE r.state = 'queued' AND (j.held_by_agent = $1 OR ($2 <> '' AND j.failover_blob IS NOT NULL \
             AND j.held_by_agent IN (SELECT id FROM agents WHERE site_key_id = $2 AND COALESCE(last_seen_at, 0) < $3))) ORDER BY r.id",
            super::releases::RELEASE_SELECT
        );
        let rows: Vec<ReleaseRow> = on_backend!(self, |pool| {
            sqlx::query_as::<_, ReleaseRow>(&sql)
                .bind(agent_id)
                .bind(site_key_id)
                .bind(away_before)
                .fetch_all(pool)
                .await?
        });
        let mut orders = Vec::new();
        for row in rows {
            let (holder, reference) = self.job_holder(row.job_id).await?.unwrap_or_default();
            let printer = self.printer_by_id(row.printer_id).await?;
            orders.push(AgentOrderRow {
                printer_uri: printer.uri,
                printer_language: printer.language,
                format: self.job_by_id(row.job_id).await?.format,
                agent_ref: reference,
                failover: holder != agent_id,
                release: row,
            });
        }
        Ok(orders)
    }

    /// Releases of workstation jobs that no agent took for `before`: the workstation
    /// stayed away (and no failover copy was delivered). They fail — the job is held
    /// again — rather than print hours later at a printer nobody stands at.
    pub async fn expire_agent_orders(&self, before: i64) -> DbResult<Vec<i64>> {
        let ids: Vec<i64> = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "SELECT r.id FROM releases r JOIN jobs j ON j.id = r.job_id \
                 WHERE r.state = 'queued' AND j.held_by_agent IS NOT NULL AND r.created_at < $1",
            )
            .bind(before)
            .fetch_all(pool)
            .await?
        });
        for id in &ids {
            self.finish_release(
                *id,
                None,
                super::ReleaseEnd::Failed,
                "the computer that keeps this job did not come online to print it; the job is held again",
            )
            .await?;
        }
        Ok(ids)
    }

    /// Marks the agent as heard from (its orders long-poll).
    pub async fn agent_seen(&self, agent_id: i64) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("UPDATE agents SET last_seen_at = $1 WHERE id = $2")
                .bind(now())
                .bind(agent_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records the failover copy of a job the agent keeps. False: not its job.
    pub async fn set_failover_copy(
        &self,
        job_id: i64,
        agent_id: i64,
        blob_id: &str,
        wrapped_key: &str,
    ) -> DbResult<bool> {
        Ok(on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET failover_blob = $1, failover_key = $2 \
                 WHERE id = $3 AND held_by_agent = $4 AND state IN ('incoming', 'held')",
            )
            .bind(blob_id)
            .bind(wrapped_key)
            .bind(job_id)
            .bind(agent_id)
            .execute(pool)
            .await?
            .rows_affected()
        }) == 1)
    }

    /// A job's failover copy: (blob id, the data key wrapped by the site key).
    pub async fn failover_copy(&self, job_id: i64) -> DbResult<Option<(String, String)>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, (Option<String>, Option<String>)>(
                "SELECT failover_blob, failover_key FROM jobs WHERE id = $1",
            )
            .bind(job_id)
            .fetch_optional(pool)
            .await?
        })
        .and_then(|(blob, key)| Some((blob?, key?))))
    }

    pub async fn clear_failover_copy(&self, job_id: i64) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("UPDATE jobs SET failover_blob = NULL, failover_key = NULL WHERE id = $1")
                .bind(job_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The agent takes a release of a job it keeps; from now on bytes may leave
    /// (transmitting), so losing the agent leaves it needing attention.
    pub async fn claim_agent_release(
        &self,
        release_id: i64,
        agent_id: i64,
        owner: &str,
        lease_until: i64,
        site_key_id: &str,
        away_before: i64,
    ) -> DbResult<Option<ReleaseRow>> {
        let taken = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE releases SET state = 'releasing', lease_owner = $1, lease_until = $2, transmitting = TRUE, \
                 attempts = attempts + 1, protocol = 'agent', updated_at = $3 \
                 WHERE id = $4 AND state = 'queued' AND job_id IN (SELECT id FROM jobs WHERE held_by_agent = $5 \
                 OR ($6 <> '' AND failover_blob IS NOT NULL \
                     AND held_by_agent IN (SELECT id FROM agents WHERE site_key_id = $6 AND COALESCE(last_seen_at, 0) < $7)))",
            )
            .bind(owner)
            .bind(lease_until)
            .bind(now())
            .bind(release_id)
            .bind(agent_id)
            .bind(site_key_id)
            .bind(away_before)
            .execute(pool)
            .await?
            .rows_affected()
        });
        let row = self.release_by_id(release_id).await?;
        let mine =
            row.lease_owner.as_deref() == Some(owner) && row.state == ReleaseState::Releasing;
        Ok((taken > 0 || mine).then_some(row))
    }

    /// Releases the owner holds under its lease.
    pub async fn releases_held_by_owner(&self, owner: &str) -> DbResult<Vec<ReleaseRow>> {
        let sql = format!(
            "{} WHERE r.lease_owner = $1 AND r.state IN ('releasing', 'sent')",
            super::releases::RELEASE_SELECT
        );
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, ReleaseRow>(&sql)
                .bind(owner)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Renews the leases the owner holds (a workstation agent delivering).
    pub async fn renew_leases_of(&self, owner: &str, until: i64) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE releases SET lease_until = $1 WHERE lease_owner = $2 AND state IN ('releasing', 'sent')",
            )
            .bind(until)
            .bind(owner)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Of the documents an agent keeps, those whose job no longer waits for release
    /// (printed, expired, deleted): the agent deletes them.
    pub async fn finished_agent_refs(
        &self,
        agent_id: i64,
        refs: &[String],
    ) -> DbResult<Vec<String>> {
        // Only jobs known here and ended: a document whose job is still being
        // recorded (parked a moment ago) is not "unknown", it is new.
        let ended: Vec<String> = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "SELECT agent_ref FROM jobs WHERE held_by_agent = $1 AND agent_ref IS NOT NULL \
                 AND state NOT IN ('incoming', 'held', 'releasing', 'needs-attention')",
            )
            .bind(agent_id)
            .fetch_all(pool)
            .await?
        });
        Ok(refs.iter().filter(|r| ended.contains(r)).cloned().collect())
    }
}
