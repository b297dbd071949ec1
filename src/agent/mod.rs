//! `printpark agent`: the on-site agent. It runs where the printers are reachable and
//! keeps only outbound HTTPS to the server (the server never connects to it):
//! enrolled once with a one-time code and approved by an admin, it reports its health
//! on a heartbeat, learns which printers it serves, and for each of them is the IPP
//! INFRA output device (`device.rs`), delivering with the server's own push code
//! (`delivery.rs`). Its state — credential, pinned server certificate, how far each
//! job got — is a small SQLite file, so restarts lose and repeat nothing.

mod channel;
mod delivery;
mod printer;
mod requests;
mod spool;
mod state;
mod workstation;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::release::{AgentAssignment, AgentEnrolment, AgentHealth, AgentPrinterHealth};
use channel::Channel;
use delivery::Deliverer;
use printer::PrinterTask;
use spool::Spool;
use state::{AgentState, Enrolment};

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

/// What each printer is doing, for the heartbeat and the log.
#[derive(Clone, Default)]
pub struct HealthBoard(Arc<Mutex<HashMap<String, AgentPrinterHealth>>>);

impl HealthBoard {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, AgentPrinterHealth>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn set(&self, guid: &str, state: &str, error: Option<String>) {
        self.with(|board| {
            let entry = board.entry(guid.to_string()).or_default();
            entry.guid = guid.to_string();
            entry.state = state.to_string();
            if error.is_some() || state == "ready" {
                entry.last_error = error;
            }
        });
    }

    pub fn delivered(&self, guid: &str) {
        self.with(|board| board.entry(guid.to_string()).or_default().delivered += 1);
    }

    fn snapshot(&self, guids: &[String]) -> Vec<AgentPrinterHealth> {
        self.with(|board| {
            board.retain(|guid, _| guids.contains(guid));
            let mut all: Vec<AgentPrinterHealth> = board.values().cloned().collect();
            all.sort_by(|a, b| a.guid.cmp(&b.guid));
            all
        })
    }
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

/// The workstation queue's settings, until the first heartbeat gives the site salt.
struct Workstation {
    password: zeroize::Zeroizing<String>,
    listen: std::net::SocketAddr,
    owner: Option<String>,
}

/// The site key from the site password and the server's salt.
async fn derive_site_key(
    config: &Workstation,
    salt: &str,
) -> Result<crate::vault::MasterKey, AgentError> {
    let password = config.password.clone();
    let salt = salt.to_string();
    // Argon2id takes a moment and 64 MiB: off the async threads.
    tokio::task::spawn_blocking(move || workstation::site_key(&password, &salt))
        .await
        .map_err(|e| AgentError::Setup(e.to_string()))?
}

/// Opens the sealed store with the site key and starts the local queue and the
/// order loop.
#[allow(clippy::too_many_arguments)]
async fn start_workstation(
    config: &Workstation,
    key: crate::vault::MasterKey,
    failover: &Arc<std::sync::atomic::AtomicBool>,
    channel: &Channel,
    enrolment: &Enrolment,
    state: &AgentState,
    dir: &Path,
) -> Result<(actix_web::dev::ServerHandle, String), AgentError> {
    let site_key_id = key.id();
    // The server keeps workstation jobs only from agents that hold a site key: say so
    // before the queue opens.
    let said = AgentHealth {
        hostname: hostname(),
        version: env!("CARGO_PKG_VERSION").into(),
        site_key_id: site_key_id.clone(),
        ..Default::default()
    };
    channel
        .heartbeat((&enrolment.login, &enrolment.secret), &said)
        .await?;
    let store = Arc::new(workstation::ParkedStore::at(&dir.join("parked"), key)?);
    let credential = (enrolment.login.clone(), enrolment.secret.clone());
    let server = workstation::serve(
        workstation::LocalQueue {
            channel: channel.clone(),
            credential: credential.clone(),
            store: store.clone(),
            owner: config.owner.clone(),
            failover: failover.clone(),
            uuid: stable_uuid(&enrolment.login),
            uri: format!("ipp://{}/ipp/print", config.listen),
        },
        config.listen,
    )?;
    let handle = server.handle();
    tokio::spawn(server);
    tokio::spawn(workstation::deliver_orders(
        channel.clone(),
        credential,
        store,
        state.clone(),
    ));
    tracing::info!(queue = %format!("ipp://{}/ipp/print", config.listen), "workstation queue ready; jobs stay on this computer, sealed with the site key");
    Ok((handle, site_key_id))
}

/// The stored enrolment, or a new one with `--server` and `--enrol`.
async fn enrolled(state: &AgentState, args: &AgentArgs) -> Result<Enrolment, AgentError> {
    if let Some(enrolment) = state.enrolment().await? {
        if args.enrol.is_some() {
            tracing::warn!(server = %enrolment.server, "already enrolled; --enrol is ignored (delete the state directory to enrol again)");
        }
        return Ok(enrolment);
    }
    let (Some(server), Some(code)) = (&args.server, &args.enrol) else {
        return Err(AgentError::Setup(
            "this agent is not enrolled yet: run it once with --server https://… --enrol CODE (make the code in Admin → Agents)".into(),
        ));
    };
    let server = server.trim_end_matches('/').to_string();
    let channel = Channel::new(&server, args.server_fingerprint.as_deref())?;
    let host = hostname();
    let credential = channel
        .enrol(&AgentEnrolment {
            code: code.clone(),
            name: args.name.clone().unwrap_or_else(|| host.clone()),
            hostname: host,
            version: env!("CARGO_PKG_VERSION").into(),
        })
        .await?;
    let pin = channel
        .seen_fingerprint()
        .ok_or_else(|| AgentError::Protocol("no server certificate was seen".into()))?;
    // With the salt, a workstation agent reports its site key id while it waits: the
    // admin confirms that id when approving it.
    if !credential.site_salt.is_empty() {
        state.set(SITE_SALT_KEY, &credential.site_salt).await?;
    }
    let enrolment = Enrolment {
        server,
        login: credential.login,
        secret: credential.secret,
        pin,
    };
    state.save_enrolment(&enrolment).await?;
    tracing::info!(login = %enrolment.login, server_certificate = %enrolment.pin, "enrolled; an admin must approve this agent in Admin → Agents");
    Ok(enrolment)
}

async fn run(
    state: AgentState,
    enrolment: Enrolment,
    dir: &Path,
    workstation: Option<Workstation>,
) -> Result<(), AgentError> {
    let mut queue: Option<actix_web::dev::ServerHandle> = None;
    let failover = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut site_key_id = String::new();
    // The site key, derived as soon as the salt is known (from the enrolment or an
    // earlier run), so even the heartbeats before approval report its id.
    let mut known_salt = state.get(SITE_SALT_KEY).await?.unwrap_or_default();
    let mut site_key: Option<(String, crate::vault::MasterKey)> = None;
    if let Some(config) = &workstation
        && !known_salt.is_empty()
    {
        let key = derive_site_key(config, &known_salt).await?;
        site_key_id = key.id();
        site_key = Some((known_salt.clone(), key));
    }
    let channel = Channel::new(&enrolment.server, Some(&enrolment.pin))?;
    let board = HealthBoard::default();
    let deliverer = Deliverer {
        state: state.clone(),
        spool: Arc::new(Spool::open(&dir.join("spool"))?),
        board: board.clone(),
    };
    let started_at = crate::db::now();
    let mut printers: HashMap<String, PrinterTask> = HashMap::new();
    let mut waiting_logged = false;
    let mut interval: Duration;
    tracing::info!(server = %enrolment.server, version = env!("CARGO_PKG_VERSION"), "agent started");
    let outcome = loop {
        let guids: Vec<String> = printers.values().map(|p| p.printer.guid.clone()).collect();
        let health = AgentHealth {
            hostname: hostname(),
            version: env!("CARGO_PKG_VERSION").into(),
            started_at,
            printers: board.snapshot(&guids),
            unreported: state
                .all_deliveries()
                .await
                .map(|d| d.len() as u64)
                .unwrap_or(0),
            site_key_id: site_key_id.clone(),
        };
        let _ = state
            .set(
                "health",
                &serde_json::to_string(&health).unwrap_or_default(),
            )
            .await;
        match channel
            .heartbeat((&enrolment.login, &enrolment.secret), &health)
            .await
        {
            Ok(assignment) => {
                waiting_logged = false;
                interval = Duration::from_secs(assignment.heartbeat_secs.clamp(2, 300));
                let _ = state
                    .set("last_contact", &crate::db::now().to_string())
                    .await;
                // For `agent status`: names and addresses, never the device secrets
                // (the heartbeat hands them out again each time).
                let mut shown = assignment.clone();
                for printer in &mut shown.printers {
                    printer.device_secret.clear();
                }
                let _ = state
                    .set(
                        "assignment",
                        &serde_json::to_string(&shown).unwrap_or_default(),
                    )
                    .await;
                let _ = state.set("last_error", "").await;
                reconcile(&mut printers, &assignment, &channel, &deliverer, &board).await;
                failover.store(
                    assignment.failover_copy,
                    std::sync::atomic::Ordering::Relaxed,
                );
                if known_salt != assignment.site_salt {
                    let _ = state.set(SITE_SALT_KEY, &assignment.site_salt).await;
                    known_salt = assignment.site_salt.clone();
                }
                if let (Some(config), None) = (&workstation, &queue) {
                    let key = match site_key.take() {
                        Some((salt, key)) if salt == assignment.site_salt => key,
                        _ => match derive_site_key(config, &assignment.site_salt).await {
                            Ok(key) => key,
                            Err(e) => break Err(e),
                        },
                    };
                    match start_workstation(
                        config, key, &failover, &channel, &enrolment, &state, dir,
                    )
                    .await
                    {
                        Ok((handle, id)) => {
                            queue = Some(handle);
                            // Reported at once: the server keeps workstation jobs only
                            // from agents that said they hold a site key.
                            site_key_id = id;
                            continue;
                        }
                        Err(e) => break Err(e),
                    }
                }
            }
            Err(AgentError::AwaitingApproval) => {
                if !waiting_logged {
                    tracing::info!("waiting for an admin to approve this agent (Admin → Agents)");
                    waiting_logged = true;
                }
                let _ = state
                    .set("last_error", &AgentError::AwaitingApproval.to_string())
                    .await;
                interval = Duration::from_secs(3);
            }
            Err(e @ (AgentError::Unauthenticated(_) | AgentError::CertificateChanged(_))) => {
                let _ = state.set("last_error", &e.to_string()).await;
                break Err(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed; printers keep working, trying again");
                let _ = state.set("last_error", &e.to_string()).await;
                interval = Duration::from_secs(3);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown() => break Ok(()),
        }
    };
    tracing::info!("stopping: deliveries under way finish first (up to 60 s)");
    // Every printer is told at once; they finish under one deadline.
    futures_util::future::join_all(
        printers
            .drain()
            .map(|(_, task)| task.stop(Duration::from_secs(60))),
    )
    .await;
    if let Some(queue) = queue {
        queue.stop(true).await;
    }
    outcome
}

/// Starts the printers newly assigned, stops the ones taken away (or changed).
async fn reconcile(
    printers: &mut HashMap<String, PrinterTask>,
    assignment: &AgentAssignment,
    channel: &Channel,
    deliverer: &Deliverer,
    board: &HealthBoard,
) {
    let stale: Vec<String> = printers
        .iter()
        .filter(|(login, task)| {
            !assignment
                .printers
                .iter()
                .any(|p| &p.device_login == *login && *p == task.printer)
        })
        .map(|(login, _)| login.clone())
        .collect();
    // Stopped in the background: a delivery under way finishes (up to 60 s) while the
    // heartbeat goes on.
    for login in stale {
        if let Some(task) = printers.remove(&login) {
            tracing::info!(printer = %task.printer.name, "no longer assigned to this agent, or its settings changed");
            tokio::spawn(task.stop(Duration::from_secs(60)));
        }
    }
    for printer in &assignment.printers {
        if !printers.contains_key(&printer.device_login) {
            tracing::info!(printer = %printer.name, uri = %printer.uri, "serving printer");
            let task = PrinterTask::spawn(
                channel.clone(),
                printer.clone(),
                deliverer.clone(),
                board.clone(),
            );
            printers.insert(printer.device_login.clone(), task);
        }
    }
}

async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The state file's key for the site key's salt (not secret).
const SITE_SALT_KEY: &str = "site_salt";

/// `agent status` fails (exit 1) when the last contact is older than this.
const STATUS_SILENT_SECS: i64 = 120;

async fn status(state: &AgentState) -> Result<(), AgentError> {
    let Some(enrolment) = state.enrolment().await? else {
        return Err(AgentError::Setup(
            "not enrolled (run: printpark agent --server https://… --enrol CODE)".into(),
        ));
    };
    println!("server:        {}", enrolment.server);
    println!("agent login:   {}", enrolment.login);
    println!("server cert:   sha256 {}", enrolment.pin);
    let last = state
        .get("last_contact")
        .await?
        .and_then(|t| t.parse::<i64>().ok());
    match last {
        Some(at) => println!("last contact:  {} s ago", (crate::db::now() - at).max(0)),
        None => println!("last contact:  never"),
    }
    let last_error = state.get("last_error").await?.filter(|e| !e.is_empty());
    if let Some(error) = &last_error {
        println!("last error:    {error}");
    }
    let health: AgentHealth = state
        .get("health")
        .await?
        .and_then(|h| serde_json::from_str(&h).ok())
        .unwrap_or_default();
    let assignment: Option<AgentAssignment> = state
        .get("assignment")
        .await?
        .and_then(|a| serde_json::from_str(&a).ok());
    let printers = assignment.map(|a| a.printers).unwrap_or_default();
    if !health.site_key_id.is_empty() {
        // The admin compares it with the id the Agents page shows before approving.
        println!("site key id:   {}", health.site_key_id);
    }
    println!("printers:      {}", printers.len());
    for printer in &printers {
        let h = health.printers.iter().find(|h| h.guid == printer.guid);
        println!(
            "  {} ({}): {}{}, {} delivered",
            printer.name,
            printer.uri,
            h.map_or("starting", |h| h.state.as_str()),
            h.and_then(|h| h.last_error.as_deref())
                .map(|e| format!(" — {e}"))
                .unwrap_or_default(),
            h.map_or(0, |h| h.delivered),
        );
    }
    let jobs = state.all_deliveries().await?;
    let silent = last.is_none_or(|at| crate::db::now() - at > STATUS_SILENT_SECS);
    println!("jobs under way: {}", jobs.len());
    for job in jobs {
        println!(
            "  job {} ({}), since {} s",
            job.job_id,
            job.phase,
            (crate::db::now() - job.updated_at).max(0)
        );
    }
    if silent {
        // Unhealthy for `docker`/systemd checks: not approved, revoked, or cut off.
        let why = last_error.unwrap_or_else(|| {
            format!("no contact with the server for more than {STATUS_SILENT_SECS} s")
        });
        return Err(AgentError::Setup(format!("unhealthy: {why}")));
    }
    Ok(())
}
