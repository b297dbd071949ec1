//! `printpark agent`: the on-site agent. It runs where the printers are reachable and
//! keeps only outbound HTTPS to the server (the server never connects to it):
//! enrolled once with a one-time code and approved by an admin, it reports its health
//! on a heartbeat, learns which printers it serves, and for each of them is the IPP
//! INFRA output device (`printer.rs`), delivering with the server's own push code
//! (`delivery.rs`). Its state — credential, pinned server certificate, how far each
//! job got — is a small SQLite file, so restarts lose and repeat nothing.

mod channel;
mod delivery;
mod health;
mod printer;
mod requests;
mod run;
mod spool;
mod state;
mod status;
mod workstation;

use std::path::PathBuf;

use clap::{Args, Subcommand};

pub use health::HealthBoard;
use run::{Workstation, enrolled, run};
use state::AgentState;
use status::status;

#[derive(Args, Debug)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub command: Option<AgentCommand>,
    /// The server, https://host:port (needed once, to enrol).
    #[arg(long, env = "PRINTPARK_AGENT_SERVER")]
    pub server: Option<String>,
    /// The one-time code from Admin → Agents (needed once).
    #[arg(long, env = "PRINTPARK_AGENT_ENROL")]
    pub enrol: Option<String>,
    /// How admins see this agent (default: the host name).
    #[arg(long)]
    pub name: Option<String>,
    /// The SHA-256 of the server's certificate (Admin → Agents shows it). Without it
    /// the certificate seen at enrolment is pinned.
    #[arg(long)]
    pub server_fingerprint: Option<String>,
    /// Also run the workstation queue: jobs printed to it on this computer stay here,
    /// sealed with the site key; the server gets only their metadata.
    #[arg(long)]
    pub workstation: bool,
    /// Where the local queue listens (ipp://ADDRESS/ipp/print).
    #[arg(long, default_value = "127.0.0.1:8631")]
    pub listen: std::net::SocketAddr,
    /// A file holding the site password (the site key is derived from it; the server
    /// never sees either). Or set PRINTPARK_AGENT_SITE_PASSWORD.
    #[arg(long)]
    pub site_password_file: Option<PathBuf>,
    /// The owner of every job printed here (a single-user workstation). Default: the
    /// user name the printing application sends.
    #[arg(long)]
    pub owner: Option<String>,
    /// Where the agent keeps its state file and spool.
    #[arg(
        long,
        global = true,
        env = "PRINTPARK_AGENT_STATE",
        default_value = "./agent-state"
    )]
    pub state_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum AgentCommand {
    /// Show enrolment, server, printers, last contact and jobs under way (from the
    /// state file; works while the agent runs).
    Status,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Setup(String),
    #[error("the agent's state file: {0}")]
    State(String),
    #[error("the server could not be reached: {0}")]
    Unreachable(String),
    #[error(
        "the server's certificate changed (sha256 {0}); if the server was re-keyed, enrol the agent again"
    )]
    CertificateChanged(String),
    #[error("the server refused the agent's credential: {0}")]
    Unauthenticated(String),
    #[error("waiting for an admin to approve this agent (Admin → Agents)")]
    AwaitingApproval,
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("the server answered {} ({message})", crate::ipp::client::status_name(*.status))]
    Ipp { status: u16, message: String },
    #[error("the server's answer is malformed: {0}")]
    Protocol(String),
}

/// A UUID that stays the same for the same seed (a login): the server and the
/// computer see one device or queue across restarts.
fn stable_uuid(seed: &str) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// `printpark agent [status]`.
pub async fn main(args: AgentArgs) -> Result<(), AgentError> {
    let state = AgentState::open(&args.state_dir).await?;
    if let Some(AgentCommand::Status) = args.command {
        return status(&state).await;
    }
    let workstation = if args.workstation {
        let password = match (
            &args.site_password_file,
            std::env::var("PRINTPARK_AGENT_SITE_PASSWORD"),
        ) {
            (Some(file), _) => std::fs::read_to_string(file)
                .map_err(|e| AgentError::Setup(format!("{}: {e}", file.display())))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
            (None, Ok(password)) => password,
            (None, Err(_)) => {
                return Err(AgentError::Setup(
                    "--workstation needs the site password: --site-password-file FILE or PRINTPARK_AGENT_SITE_PASSWORD".into(),
                ));
            }
        };
        if !args.listen.ip().is_loopback() {
            return Err(AgentError::Setup(format!(
                "--listen {} is not a loopback address: the workstation queue serves this computer only",
                args.listen
            )));
        }
        if password.chars().count() < 12 {
            return Err(AgentError::Setup(
                "the site password must have at least 12 characters".into(),
            ));
        }
        Some(Workstation {
            password: zeroize::Zeroizing::new(password),
            listen: args.listen,
            owner: args.owner.clone(),
        })
    } else {
        None
    };
    let enrolment = enrolled(&state, &args).await?;
    run(state, enrolment, &args.state_dir, workstation).await
}

/// The agent's converter: worker processes of this very binary (the agent is the
/// printpark program). Ghostscript missing is said once at start: jobs that need no
/// conversion still print, the others fail with the converter's sentence.
pub(crate) fn converter() -> crate::convert::Converter {
    let converter = crate::convert::Converter::new(None);
    if let Err(e) = converter.check() {
        tracing::warn!(error = %e, "jobs a printer does not take as they are cannot be converted here");
    }
    converter
}
