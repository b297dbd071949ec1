//! Jobs that never leave the building: a workstation agent seals each job with the
//! site key (derived from the site password, which the server never sees) and keeps
//! it; the server gets only the metadata, so the job shows in its owner's list
//! everywhere. When the owner releases it, the agent that keeps it is told (its
//! orders long-poll), takes the release and delivers it to the printer itself; its
//! report drives the same state machine as every other delivery.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Infra, InfraError, agent_owner};
use crate::clock::now;
use crate::db::{AgentRow, NewJob, ReleaseEnd};
use crate::identity::ClientInfo;
use crate::identity::{AuditAction, AuditEvent, AuditOutcome};
use crate::jobs::{ColorMode, Sides};
use crate::release::conclusion::conclude;
use crate::release::{ReleaseError, ReleaseState};

/// How long an orders request waits for a release.
const ORDERS_WAIT: Duration = Duration::from_secs(25);
const SITE_SALT: &str = "site-key-salt";

/// What the agent knows of a job it parked (never its content).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkstationJob {
    /// The agent's own name for the sealed document.
    pub agent_ref: String,
    /// The owner's username or e-mail (the person signed in at the workstation).
    pub owner: String,
    pub name: String,
    pub format: String,
    #[serde(default)]
    pub pages: Option<i64>,
    #[serde(default)]
    pub color: Option<bool>,
    pub size_bytes: i64,
    #[serde(default = "one")]
    pub copies: i64,
    #[serde(default = "one_sided")]
    pub sides: String,
}

fn one() -> i64 {
    1
}

fn one_sided() -> String {
    Sides::OneSided.as_str().into()
}

/// The documents the agent keeps, so the server can say which to delete.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentOrdersRequest {
    #[serde(default)]
    pub refs: Vec<String>,
}

/// A release the agent is to deliver.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentOrder {
    pub release_id: i64,
    pub job_id: i64,
    /// Deliver from the failover copy (the agent that keeps the job is away).
    #[serde(default)]
    pub failover: bool,
    pub agent_ref: String,
    pub printer_name: String,
    /// Where to deliver (`ipps://`, `ipp://` or `socket://`).
    pub printer_uri: String,
    pub job_name: String,
    pub owner: String,
    /// The document's format, as the workstation analysed it.
    #[serde(default)]
    pub format: String,
    pub copies: i64,
    pub sides: String,
    pub color_mode: String,
    /// A raw printer's language as the admin set it, so the agent converts jobs into
    /// it; absent from older servers.
    #[serde(default)]
    pub printer_language: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentOrders {
    pub orders: Vec<AgentOrder>,
    /// Documents whose job ended (printed, expired, deleted): delete them.
    pub discard: Vec<String>,
}

/// How a delivery ended: `printed`, `not-printed` (nothing reached the printer; the
/// job is held again) or `unknown` (it may have printed: needs attention).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentOutcome {
    pub outcome: String,
    #[serde(default)]
    pub message: String,
}

/// Why a workstation's job for a user name PrintPark does not know is refused.
fn unknown_person(name: &str) -> String {
    let name: String = name.trim().chars().take(100).collect();
    format!("PrintPark has no account for the user name '{name}' on this computer")
}

/// The site key id under which this agent takes failover orders: its confirmed one if
/// the admin designated it a failover deliverer, else none ('' turns failover off in
/// the queries).
fn failover_key(agent: &AgentRow) -> &str {
    if agent.failover_deliverer {
        &agent.site_key_id
    } else {
        ""
    }
}

impl Infra {
    /// The salt every agent derives the site key with (random, made once; not secret).
    pub async fn site_salt(&self) -> Result<String, InfraError> {
        let salt = self
            .release
            .db
            .init_vault_meta(SITE_SALT, &crate::vault::keys::random_bytes::<16>())
            .await?;
        Ok(hex::encode(salt))
    }

    /// A workstation agent parked a job: the owner sees it in their list; its document
    /// stays on the workstation.
    pub async fn park_workstation_job(
        &self,
        agent: &AgentRow,
        job: &WorkstationJob,
        client: &ClientInfo,
    ) -> Result<i64, InfraError> {
        if agent.site_key_id.is_empty() {
            return Err(InfraError::NotPossible(
                "only a workstation agent (printpark agent --workstation) whose site key an admin confirmed keeps jobs: confirm it in Admin → Agents".into(),
            ));
        }
        // Someone with no account: a refusal the computer must not retry, saying who.
        let owner = match self.release.identity.user_by_login(job.owner.trim()).await {
            Ok(owner) => owner,
            Err(crate::identity::IdentityError::NotFound) => {
                return Err(InfraError::NotPossible(unknown_person(&job.owner)));
            }
            Err(other) => return Err(ReleaseError::from(other).into()),
        };
        // The computer says whose job it is; the admin said whom this agent may park
        // for. Anyone else is refused, and the attempt is audited.
        if !self
            .release
            .db
            .agent_may_park_for(agent.id, owner.id)
            .await?
        {
            self.release
                .identity
                .audit(AuditEvent {
                    actor: None,
                    action: AuditAction::JobPark,
                    target: &owner.username,
                    outcome: AuditOutcome::Denied,
                    client,
                    detail: &format!(
                        "agent {} ({}) may not park jobs for {}",
                        agent.name, agent.login, owner.username
                    ),
                })
                .await
                .map_err(ReleaseError::from)?;
            return Err(InfraError::NotPossible(format!(
                "this agent may not park jobs for {}: an admin chooses whom it parks for in Admin → Agents",
                owner.username
            )));
        }
        let reference = job.agent_ref.trim();
        if reference.len() != 32 || !reference.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(InfraError::BadRequest(
                "agent_ref: 32 hexadecimal characters".into(),
            ));
        }
        let Some(sides) = Sides::parse(&job.sides) else {
            return Err(InfraError::BadRequest(format!(
                "sides {:?} is not a sides keyword",
                job.sides
            )));
        };
        if job.pages.is_some_and(|p| !(0..=1_000_000).contains(&p)) || job.format.len() > 100 {
            return Err(InfraError::BadRequest(
                "pages or format out of range".into(),
            ));
        }
        let uuid = uuid::Uuid::new_v4().to_string();
        let at = now();
        let color_mode = match job.color {
            Some(false) => ColorMode::Monochrome,
            _ => ColorMode::Auto,
        };
        let name: String = job.name.chars().take(200).collect();
        let row = self
            .release
            .db
            .insert_workstation_job(
                &NewJob {
                    uuid: &uuid,
                    owner_id: owner.id,
                    name: if name.is_empty() { "Untitled" } else { &name },
                    format: &job.format,
                    pages: job.pages,
                    color: job.color,
                    color_mode: color_mode.as_str(),
                    copies: job.copies.clamp(1, 999),
                    sides: sides.as_str(),
                    size_bytes: job.size_bytes.max(0),
                    source: "workstation",
                    client_addr: &client.addr,
                    state: "held",
                    blob_id: None,
                    submitted_at: at,
                    expires_at: at + self.release.jobs.hold_secs(&owner),
                    analysis_note: None,
                    page_ranges: None,
                },
                agent.id,
                reference,
            )
            .await?;
        self.release
            .identity
            .audit(AuditEvent {
                actor: Some(&owner),
                action: AuditAction::JobPark,
                target: &row.id.to_string(),
                outcome: AuditOutcome::Success,
                client,
                detail: &format!("kept on the workstation of agent {}", agent.name),
            })
            .await
            .map_err(ReleaseError::from)?;
        Ok(row.id)
    }

    /// What the agent is to deliver (waits up to 25 s for something), and which of
    /// its documents it can delete. Renews the leases of what it is delivering.
    pub async fn agent_orders(
        &self,
        agent: &AgentRow,
        request: &AgentOrdersRequest,
    ) -> Result<AgentOrders, InfraError> {
        let owner = agent_owner(agent);
        self.release.db.agent_seen(agent.id).await?;
        self.release
            .db
            .renew_leases_of(&owner, self.lease_until())
            .await?;
        let discard = self
            .release
            .db
            .finished_agent_refs(agent.id, &request.refs)
            .await?;
        let deadline = tokio::time::Instant::now() + ORDERS_WAIT;
        loop {
            let orders = self
                .release
                .db
                .agent_orders(agent.id, failover_key(agent), self.away_before())
                .await?;
            // A stopping server answers at once (issue 20; the wait below is a second).
            if !orders.is_empty()
                || !discard.is_empty()
                || tokio::time::Instant::now() >= deadline
                || self.events.stopping()
            {
                let orders = orders
                    .into_iter()
                    .map(|o| AgentOrder {
                        release_id: o.release.id,
                        job_id: o.release.job_id,
                        failover: o.failover,
                        agent_ref: o.agent_ref,
                        printer_name: o.release.printer_name,
                        printer_uri: o.printer_uri,
                        job_name: o.release.job_name,
                        owner: o.release.owner,
                        format: o.format,
                        copies: o.release.copies,
                        sides: o.release.sides,
                        color_mode: o.release.color_mode,
                        printer_language: o.printer_language,
                    })
                    .collect();
                return Ok(AgentOrders { orders, discard });
            }
            // A release made by any server process shows within a second.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The agent takes a release of a job it keeps (before any byte leaves).
    pub async fn claim_order(&self, agent: &AgentRow, release_id: i64) -> Result<(), InfraError> {
        self.release
            .db
            .claim_agent_release(
                release_id,
                agent.id,
                &agent_owner(agent),
                self.lease_until(),
                failover_key(agent),
                self.away_before(),
            )
            .await?
            .map(|_| ())
            .ok_or_else(|| {
                InfraError::NotFetchable(format!(
                    "release {release_id} is not this agent's to deliver"
                ))
            })
    }

    /// How the agent's delivery ended.
    pub async fn order_outcome(
        &self,
        agent: &AgentRow,
        release_id: i64,
        outcome: &AgentOutcome,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        let owner = agent_owner(agent);
        let row = self.release.db.release_by_id(release_id).await?;
        if row.lease_owner.as_deref() != Some(owner.as_str())
            || row.state != ReleaseState::Releasing
        {
            return Err(InfraError::NotFetchable(format!(
                "release {release_id} is not being delivered by this agent"
            )));
        }
        let said: String = outcome.message.chars().take(200).collect();
        let (end, reason) = match outcome.outcome.as_str() {
            "printed" => (
                ReleaseEnd::Printed,
                format!("printed by agent {}", agent.name),
            ),
            "not-printed" => (
                ReleaseEnd::Failed,
                format!(
                    "agent {} could not deliver it: {said}; the job is held again",
                    agent.name
                ),
            ),
            "unknown" => (
                ReleaseEnd::NeedsAttention,
                format!("agent {}: {said}; it may have printed", agent.name),
            ),
            other => {
                return Err(InfraError::BadRequest(format!(
                    "outcome {other:?}: printed, not-printed or unknown"
                )));
            }
        };
        let failover = self
            .release
            .db
            .job_holder(row.job_id)
            .await?
            .is_some_and(|(holder, _)| holder != agent.id);
        let elapsed = Duration::from_secs((now() - row.created_at).max(0) as u64);
        let printed = matches!(end, ReleaseEnd::Printed);
        if !conclude(&self.release, &row, &owner, end, &reason, elapsed).await {
            return Err(InfraError::NotPossible(format!(
                "release {release_id} could not be updated"
            )));
        }
        if printed && let Some((blob, _)) = self.release.db.failover_copy(row.job_id).await? {
            if let Some(id) = crate::vault::BlobId::parse(&blob) {
                let _ = self.release.vault.purge(&id).await;
            }
            self.release.db.clear_failover_copy(row.job_id).await?;
        }
        let detail = format!(
            "release {release_id} by agent {} ({}){}",
            agent.name,
            agent.login,
            if failover {
                ", from the failover copy"
            } else {
                ""
            }
        );
        self.release
            .identity
            .audit(AuditEvent {
                actor: None,
                action: AuditAction::AgentDeliver,
                target: &row.printer_name,
                outcome: AuditOutcome::parse(&outcome.outcome).unwrap_or(AuditOutcome::Unknown),
                client,
                detail: &detail,
            })
            .await
            .map_err(ReleaseError::from)?;
        Ok(())
    }

    /// Keeps the lease of a release the agent is delivering (a long job, a slow printer).
    pub async fn renew_order(&self, agent: &AgentRow, release_id: i64) -> Result<(), InfraError> {
        self.release
            .db
            .renew_lease(release_id, &agent_owner(agent), self.lease_until())
            .await
            .map_err(|_| {
                InfraError::NotFetchable(format!(
                    "release {release_id} is not being delivered by this agent"
                ))
            })
    }

    fn away_before(&self) -> i64 {
        now() - self.release.settings.agent_offline_secs as i64
    }
}
