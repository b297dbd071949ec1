//! What the admin trusts a workstation agent with: whom it may park jobs for, the
//! site key id it holds (confirmed once, fixed from then on) and whether it delivers
//! other workstations' failover copies. Approval sets all three; each can change later.

use super::{Infra, InfraError};
use crate::db::{AgentTrustRow, DbError};
use crate::identity::{AuditAction, ClientInfo, User};
use crate::release::ReleaseError;

/// Whom a workstation agent may park jobs for (a closed set, parsed at the edge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ParkScope {
    /// Only the people listed (none listed: nobody).
    #[default]
    People,
    /// Any user of the site: whoever controls the workstation can park as anyone.
    Anyone,
}

impl ParkScope {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "people" => Some(Self::People),
            "anyone" => Some(Self::Anyone),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::People => "people",
            Self::Anyone => "anyone",
        }
    }
}

/// What the admin decides about an agent on the Agents page. The default trusts it
/// with nobody and no failover.
#[derive(Debug, Clone, Default)]
pub struct AgentTrust {
    pub scope: ParkScope,
    /// Usernames or e-mail addresses it may park for (scope `People`).
    pub people: Vec<String>,
    /// It takes failover orders (other workstations' jobs of its confirmed site key).
    pub failover_deliverer: bool,
}

impl AgentTrust {
    /// Only these people, no failover.
    pub fn people<S: AsRef<str>>(people: &[S]) -> Self {
        Self {
            people: people.iter().map(|p| p.as_ref().to_string()).collect(),
            ..Self::default()
        }
    }
}

impl Infra {
    /// The people a trust names, as user ids (each must exist).
    async fn trust_row(&self, trust: &AgentTrust) -> Result<AgentTrustRow, InfraError> {
        let mut people = Vec::new();
        if trust.scope == ParkScope::People {
            for login in trust
                .people
                .iter()
                .map(|p| p.trim())
                .filter(|p| !p.is_empty())
            {
                let user = self
                    .release
                    .identity
                    .user_by_login(login)
                    .await
                    .map_err(|_| InfraError::BadRequest(format!("no PrintPark user {login:?}")))?;
                if !people.contains(&user.id) {
                    people.push(user.id);
                }
            }
        }
        Ok(AgentTrustRow {
            park_scope: trust.scope.as_str().to_string(),
            people,
            failover_deliverer: trust.failover_deliverer,
        })
    }

    fn describe_trust(trust: &AgentTrust) -> String {
        let people = match trust.scope {
            ParkScope::Anyone => "parks for any user of the site".to_string(),
            ParkScope::People if trust.people.is_empty() => "parks for nobody".to_string(),
            ParkScope::People => format!("parks for {}", trust.people.join(", ")),
        };
        let failover = if trust.failover_deliverer {
            "failover deliverer"
        } else {
            "no failover"
        };
        format!("{people}; {failover}")
    }

    /// pending → active, with the site key id the admin saw and confirmed (`""`: the
    /// agent reported none, as a site agent) and whom it may park for.
    pub async fn approve_agent(
        &self,
        admin: &User,
        agent_id: i64,
        site_key_id: &str,
        trust: &AgentTrust,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        crate::identity::people::require_admin(admin).map_err(ReleaseError::from)?;
        let agent = self.release.db.agent_by_id(agent_id).await?;
        let row = self.trust_row(trust).await?;
        let site_key_id = site_key_id.trim();
        self.release
            .db
            .approve_agent(agent_id, site_key_id, &row)
            .await
            .map_err(|e| match e {
                DbError::NotFound if agent.state == "pending" => InfraError::NotPossible(format!(
                    "{} now reports site key {:?}, not {site_key_id:?}: look at the page again",
                    agent.name, agent.site_key_reported
                )),
                DbError::NotFound => {
                    InfraError::NotPossible(format!("{} is not waiting for approval", agent.name))
                }
                other => other.into(),
            })?;
        let detail = format!(
            "{}; site key {}; {}",
            agent.login,
            if site_key_id.is_empty() {
                "none"
            } else {
                site_key_id
            },
            Self::describe_trust(trust)
        );
        self.audit_admin(
            admin,
            AuditAction::AgentApprove,
            &agent.name,
            client,
            &detail,
        )
        .await
    }

    /// Changes whom an approved agent may park for, and whether it takes failover orders.
    pub async fn set_agent_trust(
        &self,
        admin: &User,
        agent_id: i64,
        trust: &AgentTrust,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        crate::identity::people::require_admin(admin).map_err(ReleaseError::from)?;
        let agent = self.release.db.agent_by_id(agent_id).await?;
        if agent.state == "revoked" {
            return Err(InfraError::NotPossible("the agent is revoked".into()));
        }
        let row = self.trust_row(trust).await?;
        self.release.db.set_agent_trust(agent_id, &row).await?;
        self.audit_admin(
            admin,
            AuditAction::AgentTrust,
            &agent.name,
            client,
            &Self::describe_trust(trust),
        )
        .await
    }

    /// Fixes an approved agent's site key id to the one it reports now (it reported
    /// none at approval, or the site password was changed on purpose).
    pub async fn confirm_site_key(
        &self,
        admin: &User,
        agent_id: i64,
        site_key_id: &str,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        crate::identity::people::require_admin(admin).map_err(ReleaseError::from)?;
        let agent = self.release.db.agent_by_id(agent_id).await?;
        let site_key_id = site_key_id.trim();
        if !self
            .release
            .db
            .confirm_site_key(agent_id, site_key_id)
            .await?
        {
            return Err(InfraError::NotPossible(format!(
                "{} reports site key {:?}, not {site_key_id:?}: look at the page again",
                agent.name, agent.site_key_reported
            )));
        }
        let was = if agent.site_key_id.is_empty() {
            "none"
        } else {
            &agent.site_key_id
        };
        self.audit_admin(
            admin,
            AuditAction::AgentSiteKey,
            &agent.name,
            client,
            &format!("confirmed site key {site_key_id} (was {was})"),
        )
        .await
    }
}
