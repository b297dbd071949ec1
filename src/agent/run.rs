//! The agent's life once started: enrolment (once), then the heartbeat loop that
//! learns the assignment, starts and stops the printer tasks, and opens the
//! workstation queue when the site key is known; shutdown lets deliveries finish.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::channel::Channel;
use super::delivery::Deliverer;
use super::health::HealthBoard;
use super::printer::PrinterTask;
use super::spool::Spool;
use super::state::{AgentState, Enrolment};
use super::{AgentArgs, AgentError, hostname, stable_uuid, workstation};
use crate::release::{AgentAssignment, AgentEnrolment, AgentHealth};

/// The state file's key for the site key's salt (not secret).
const SITE_SALT_KEY: &str = "site_salt";

/// The workstation queue's settings, until the first heartbeat gives the site salt.
pub(super) struct Workstation {
    pub(super) password: zeroize::Zeroizing<String>,
    pub(super) listen: std::net::SocketAddr,
    pub(super) owner: Option<String>,
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
pub(super) async fn enrolled(
    state: &AgentState,
    args: &AgentArgs,
) -> Result<Enrolment, AgentError> {
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

pub(super) async fn run(
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
        converter: super::converter(),
    };
    let started_at = crate::clock::now();
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
        note(
            &state,
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
                note(&state, "last_contact", &crate::clock::now().to_string()).await;
                // For `agent status`: names and addresses, never the device secrets
                // (the heartbeat hands them out again each time).
                let mut shown = assignment.clone();
                for printer in &mut shown.printers {
                    printer.device_secret.clear();
                }
                note(
                    &state,
                    "assignment",
                    &serde_json::to_string(&shown).unwrap_or_default(),
                )
                .await;
                note(&state, "last_error", "").await;
                reconcile(&mut printers, &assignment, &channel, &deliverer, &board).await;
                failover.store(
                    assignment.failover_copy,
                    std::sync::atomic::Ordering::Relaxed,
                );
                if known_salt != assignment.site_salt {
                    note(&state, SITE_SALT_KEY, &assignment.site_salt).await;
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
                note(
                    &state,
                    "last_error",
                    &AgentError::AwaitingApproval.to_string(),
                )
                .await;
                interval = Duration::from_secs(3);
            }
            Err(e @ (AgentError::Unauthenticated(_) | AgentError::CertificateChanged(_))) => {
                note(&state, "last_error", &e.to_string()).await;
                break Err(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed; printers keep working, trying again");
                note(&state, "last_error", &e.to_string()).await;
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

/// Writes a note to the state file: what `agent status` shows (health, last contact,
/// errors) and the site key's salt (not secret; the heartbeat brings it again). A
/// failed write only makes those stale, so it is logged and the agent goes on.
async fn note(state: &AgentState, key: &str, value: &str) {
    if let Err(e) = state.set(key, value).await {
        tracing::warn!(key, error = %e, "writing the agent's state file failed");
    }
}
