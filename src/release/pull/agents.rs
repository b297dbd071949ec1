//! On-site agents as the server sees them (`printpark agent` is the other side, in
//! `crate::agent`). An agent enrols with a one-time code an admin made, waits until
//! the admin approves it, and from then on asks, over its own HTTPS control channel
//! (a heartbeat), which printers it serves. For each of them it gets an output device
//! credential and talks IPP INFRA like any output device: nothing in the pull path
//! knows about agents.
//!
//! A workstation agent is trusted only as far as the admin said when approving it:
//! the people it may park jobs for (nobody until chosen), the site key id it holds
//! (the one it reported, confirmed by the admin and fixed from then on) and whether it
//! delivers other workstations' failover copies (off unless designated).
//!
//! A printer's device secret for an agent is derived from the server's keyed hash
//! (never stored): the agent can be handed it on every heartbeat, and revoking the
//! agent or unassigning the printer revokes the device row, which kills it at once.

use serde::{Deserialize, Serialize};

use super::{Infra, InfraError, SECRET_PURPOSE};
use crate::db::{AgentRow, DbError};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome};
use crate::identity::{ClientInfo, User};
use crate::release::ReleaseError;

const AGENT_SECRET_PURPOSE: &str = "agent-secret";
const ENROLMENT_CODE_PURPOSE: &str = "agent-enrolment-code";
const DEVICE_SECRET_PURPOSE: &str = "agent-device-secret";
/// How long an enrolment code works.
pub const ENROLMENT_CODE_LIFE_SECS: i64 = 24 * 3600;
/// How often an agent reports and asks for its printers.
pub const HEARTBEAT_SECS: u64 = 15;

/// What an agent sends to enrol.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentEnrolment {
    /// The one-time code from the admin's Agents page.
    pub code: String,
    /// How the agent is shown to admins (defaults to its host name).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub version: String,
}

/// The agent's own credential, given once at enrolment.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentCredential {
    pub login: String,
    pub secret: String,
    /// Hex salt of the site key (as in the heartbeat), so a workstation agent can
    /// report its site key id while it waits for approval: the admin confirms it then.
    #[serde(default)]
    pub site_salt: String,
}

/// One printer as the agent serves it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AgentPrinter {
    /// The printer's guid: its INFRA path is `/ipp/infra/{guid}`.
    pub guid: String,
    pub name: String,
    /// Where the agent delivers (`ipps://`, `ipp://` or `socket://`), as the admin set it.
    pub uri: String,
    /// The output device credential the agent uses for this printer (HTTP Basic).
    pub device_login: String,
    pub device_secret: String,
    /// A raw printer's language as the admin set it (`pcl5`, `pclxl`, `postscript`,
    /// `pdf`), so the agent converts jobs into it; absent from older servers.
    #[serde(default)]
    pub language: Option<String>,
}

/// The heartbeat's answer: what the agent serves now.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentAssignment {
    pub printers: Vec<AgentPrinter>,
    /// When to report next.
    pub heartbeat_secs: u64,
    /// Hex salt for deriving the site key from the site password (Argon2id); the
    /// same for every agent, not secret.
    pub site_salt: String,
    /// Upload each workstation job's sealed failover copy (admin setting).
    #[serde(default)]
    pub failover_copy: bool,
}

/// How a printer's delivery is going, as the agent reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentPrinterHealth {
    pub guid: String,
    /// connecting | ready | delivering | error
    pub state: String,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub delivered: u64,
}

/// What the agent says about itself on every heartbeat.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentHealth {
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub version: String,
    /// Unix time the agent process started.
    #[serde(default)]
    pub started_at: i64,
    #[serde(default)]
    pub printers: Vec<AgentPrinterHealth>,
    /// Job outcomes waiting to be reported (kept in its local state file).
    #[serde(default)]
    pub unreported: u64,
    /// The public id of the site key it holds (empty: no workstation queue). Agents
    /// with the same id share a site password; failover goes only between them.
    #[serde(default)]
    pub site_key_id: String,
}

/// An agent and the printers it serves, for the admin page.
#[derive(Debug, Clone)]
pub struct AgentView {
    pub agent: AgentRow,
    /// The usernames it may park for (scope `people`).
    pub people: Vec<String>,
    /// (printer id, printer name, output device id, printer guid)
    pub printers: Vec<(i64, String, i64, String)>,
    pub health: Option<AgentHealth>,
}

impl Infra {
    fn agent_hash(&self, purpose: &str, value: &str) -> Vec<u8> {
        self.release.vault.keyed_hash(purpose, value.as_bytes())
    }

    /// A one-time enrolment code (works once, for 24 hours). Shown once; only its
    /// keyed hash is kept.
    pub async fn new_enrolment_code(
        &self,
        admin: &User,
        client: &ClientInfo,
    ) -> Result<String, InfraError> {
        crate::identity::people::require_admin(admin).map_err(ReleaseError::from)?;
        let code = crate::identity::secrets::new_app_password().replacen("pp-", "enrol-", 1);
        let expires = crate::clock::now() + ENROLMENT_CODE_LIFE_SECS;
        self.release
            .db
            .insert_enrolment_code(
                &self.agent_hash(ENROLMENT_CODE_PURPOSE, &code),
                admin.id,
                expires,
            )
            .await?;
        self.audit_admin(
            admin,
            AuditAction::AgentEnrolmentCode,
            "agents",
            client,
            "valid 24 h",
        )
        .await?;
        Ok(code)
    }

    /// An agent enrols with a code: it gets its credential at once, and can use it
    /// once an admin approved the agent.
    pub async fn enrol_agent(
        &self,
        enrolment: &AgentEnrolment,
        client: &ClientInfo,
    ) -> Result<AgentCredential, InfraError> {
        let clip = |s: &str| s.trim().chars().take(100).collect::<String>();
        let hostname = clip(&enrolment.hostname);
        let name = match clip(&enrolment.name) {
            n if n.is_empty() && hostname.is_empty() => "agent".to_string(),
            n if n.is_empty() => hostname.clone(),
            n => n,
        };
        let login = format!("ag-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let secret = crate::identity::secrets::new_token();
        let code = enrolment.code.trim();
        let enrolled = self
            .release
            .db
            .enrol_agent(
                &self.agent_hash(ENROLMENT_CODE_PURPOSE, code),
                &name,
                &login,
                &self.agent_hash(AGENT_SECRET_PURPOSE, &secret),
                &hostname,
                &clip(&enrolment.version),
            )
            .await;
        let outcome = if enrolled.is_ok() {
            AuditOutcome::Success
        } else {
            AuditOutcome::Denied
        };
        self.release
            .identity
            .audit(AuditEvent {
                actor: None,
                action: AuditAction::AgentEnrol,
                target: &name,
                outcome,
                client,
                detail: &login,
            })
            .await
            .map_err(ReleaseError::from)?;
        match enrolled {
            Ok(_) => Ok(AgentCredential {
                login,
                secret,
                site_salt: self.site_salt().await?,
            }),
            Err(DbError::NotFound) => Err(InfraError::Unauthenticated),
            Err(e) => Err(e.into()),
        }
    }

    /// The agent behind HTTP Basic credentials. A pending agent is `AwaitingApproval`;
    /// unknown, wrong and revoked ones are refused alike, and audited.
    pub async fn authenticate_agent(
        &self,
        login: &str,
        secret: &str,
        client: &ClientInfo,
    ) -> Result<AgentRow, InfraError> {
        match self.verify_agent(login, secret, client).await? {
            agent if agent.state == "active" => Ok(agent),
            _ => Err(InfraError::AwaitingApproval),
        }
    }

    /// Like `authenticate_agent`, but a pending agent is let through too: its
    /// heartbeat reports (the site key id the admin is to confirm) before approval.
    pub async fn verify_agent(
        &self,
        login: &str,
        secret: &str,
        client: &ClientInfo,
    ) -> Result<AgentRow, InfraError> {
        let expected = match self.release.db.agent_by_login(login).await {
            Ok(agent) => Some(agent),
            Err(DbError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let matches = super::secret_matches(
            expected.as_ref().map(|a| a.secret_hash.as_slice()),
            &self.agent_hash(AGENT_SECRET_PURPOSE, secret),
        );
        match expected {
            Some(agent) if matches && matches!(agent.state.as_str(), "active" | "pending") => {
                Ok(agent)
            }
            other => {
                let why = match other {
                    Some(_) if matches => "revoked agent",
                    Some(_) => "wrong secret",
                    None => "unknown agent",
                };
                Err(self
                    .refuse_sign_in(AuditAction::AgentLogin, login, why, client)
                    .await)
            }
        }
    }

    /// The agent reports (version, health, the site key id it holds) and learns which
    /// printers it serves, with each one's output device credential. A pending agent's
    /// report is kept (the admin confirms its site key id when approving) and it is
    /// told to wait. Once an id is confirmed, a report of another one is refused and
    /// audited (once per new id); the confirmed id never changes here.
    pub async fn heartbeat(
        &self,
        agent: &AgentRow,
        health: &AgentHealth,
        client: &ClientInfo,
    ) -> Result<AgentAssignment, InfraError> {
        let report = serde_json::to_string(health).unwrap_or_default();
        self.release
            .db
            .touch_agent(
                agent.id,
                &health.hostname.chars().take(100).collect::<String>(),
                &health.version.chars().take(40).collect::<String>(),
                &report,
            )
            .await?;
        let reported: String = health.site_key_id.trim().chars().take(32).collect();
        if !reported.is_empty() {
            let changed = self.release.db.report_site_key(agent.id, &reported).await?;
            let confirmed = &agent.site_key_id;
            if !confirmed.is_empty() && reported != *confirmed {
                if changed {
                    self.release
                        .identity
                        .audit(AuditEvent { actor: None, action: AuditAction::AgentSiteKey, target: &agent.name, outcome: AuditOutcome::Denied, client, detail: &format!(
                                "{} reports site key {reported}; the admin confirmed {confirmed}, which stays",
                                agent.login
                            ) })
                        .await
                        .map_err(ReleaseError::from)?;
                }
                return Err(InfraError::NotPossible(format!(
                    "this agent reports site key {reported}, but the admin confirmed {confirmed} when approving it: \
                     was the site password changed? An admin confirms the new id in Admin → Agents"
                )));
            }
        }
        if agent.state == "pending" {
            return Err(InfraError::AwaitingApproval);
        }
        let mut printers = Vec::new();
        for device in self.release.db.output_devices_of_agent(agent.id).await? {
            let printer = self.release.printers.by_id(device.printer_id).await?;
            printers.push(AgentPrinter {
                guid: printer.guid,
                name: printer.name,
                uri: printer.uri,
                language: printer.language,
                device_secret: self.device_secret(&device.login),
                device_login: device.login,
            });
        }
        Ok(AgentAssignment {
            printers,
            heartbeat_secs: HEARTBEAT_SECS,
            site_salt: self.site_salt().await?,
            failover_copy: self.release.settings.agent_failover_copy,
        })
    }

    fn device_secret(&self, device_login: &str) -> String {
        hex::encode(self.agent_hash(DEVICE_SECRET_PURPOSE, device_login))
    }

    /// Lets the agent serve a printer: the printer must be pulled (protocol `infra`)
    /// and say where it prints (its URI, as the agent will reach it).
    pub async fn assign_printer(
        &self,
        admin: &User,
        agent_id: i64,
        printer_id: i64,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        crate::identity::people::require_admin(admin).map_err(ReleaseError::from)?;
        let agent = self.release.db.agent_by_id(agent_id).await?;
        if agent.state == "revoked" {
            return Err(InfraError::NotPossible("the agent is revoked".into()));
        }
        let printer = self.release.printers.by_id(printer_id).await?;
        if printer.protocol != "infra" || printer.uri.is_empty() {
            return Err(InfraError::NotPossible(format!(
                "set {}'s delivery to “pulled by an output device (IPP INFRA)” and give its URI as the agent reaches it (ipps://, ipp:// or socket://) first",
                printer.name
            )));
        }
        let current = self.release.db.output_devices_of_agent(agent.id).await?;
        if current.iter().any(|d| d.printer_id == printer.id) {
            return Ok(());
        }
        let login = format!("od-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let hash = self
            .release
            .vault
            .keyed_hash(SECRET_PURPOSE, self.device_secret(&login).as_bytes());
        self.release
            .db
            .insert_output_device(
                printer.id,
                &format!("agent {}", agent.name),
                &login,
                &hash,
                Some(agent.id),
            )
            .await?;
        self.audit_admin(
            admin,
            AuditAction::AgentAssign,
            &printer.name,
            client,
            &agent.name,
        )
        .await
    }

    /// Revokes the agent: its credential and every printer's device credential stop
    /// working at once; jobs it had fetched but not begun to download are fetchable
    /// again, the ones it was delivering need attention when their time runs out.
    pub async fn revoke_agent(
        &self,
        admin: &User,
        agent_id: i64,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        crate::identity::people::require_admin(admin).map_err(ReleaseError::from)?;
        let agent = self.release.db.agent_by_id(agent_id).await?;
        self.release.db.revoke_agent(agent_id).await?;
        for device in self.release.db.output_devices_of_agent(agent_id).await? {
            self.revoke_device(admin, device.id, client).await?;
        }
        self.audit_admin(
            admin,
            AuditAction::AgentRevoke,
            &agent.name,
            client,
            &agent.login,
        )
        .await
    }

    /// Every agent with its printers and last health report (admin).
    pub async fn agents(&self, admin: &User) -> Result<Vec<AgentView>, InfraError> {
        crate::identity::people::require_admin(admin).map_err(ReleaseError::from)?;
        let mut views = Vec::new();
        for agent in self.release.db.agents().await? {
            let mut printers = Vec::new();
            for device in self.release.db.output_devices_of_agent(agent.id).await? {
                let printer = self.release.printers.by_id(device.printer_id).await?;
                printers.push((printer.id, printer.name, device.id, printer.guid));
            }
            let health = serde_json::from_str(&agent.health).ok();
            let people = self
                .release
                .db
                .agent_people(agent.id)
                .await?
                .into_iter()
                .map(|(_, name)| name)
                .collect();
            views.push(AgentView {
                agent,
                people,
                printers,
                health,
            });
        }
        Ok(views)
    }
}
