//! The workstation agent: jobs never leave the building. A local IPP Everywhere queue
//! on 127.0.0.1 (the OS prints to it driverless) analyses each job as it streams in
//! and seals it with the **site key** — Argon2id of the site password, which the
//! server never sees — into the agent's state directory. The server gets only the
//! metadata (name, pages, colour, owner), so the job shows in its owner's list
//! everywhere; on release the server orders this agent (long-poll) to deliver, and it
//! sends the job to the printer itself with the server's push code.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio_util::io::StreamReader;

use super::AgentError;
use super::channel::Channel;
use super::state::AgentState;
use crate::ipp::operations::{check_request, response};
use crate::ipp::printer::{QueueDescription, all_attributes, select};
use crate::ipp::wire::{Attribute, Group, Limits, Message, Value, encode, group, read_message};
use crate::ipp::{op, status};
use crate::jobs::analyse::AnalyzingReader;
use crate::release::push::{self, Completion, PushError, PushJob, PushTarget};
use crate::release::{AgentOrder, AgentOrdersRequest, AgentOutcome, WorkstationJob};
use crate::vault::{MasterKey, local};
/// The largest job the local queue takes.
const MAX_JOB: u64 = 2 * 1024 * 1024 * 1024;

/// The site key (`vault::local::site_key`) from the password and the server's salt.
pub fn site_key(password: &str, site_salt_hex: &str) -> Result<MasterKey, AgentError> {
    let salt =
        hex::decode(site_salt_hex).map_err(|_| AgentError::Protocol("bad site salt".into()))?;
    local::site_key(password, &salt).map_err(|e| AgentError::Setup(e.to_string()))
}

/// Sealed jobs on the workstation: `{ref}.sealed` (AES-256-GCM chunks) and `{ref}.key`
/// (its data key, wrapped by the site key).
pub struct ParkedStore {
    dir: PathBuf,
    key: MasterKey,
}

impl ParkedStore {
    pub fn at(dir: &Path, key: MasterKey) -> Result<Self, AgentError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| AgentError::State(format!("{}: {e}", dir.display())))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            key,
        })
    }

    /// A job's files. References are 32 hex digits (made here, or checked by the
    /// server); anything else names no file, so no path can leave the directory.
    fn paths(&self, reference: &str) -> (PathBuf, PathBuf) {
        let ok = reference.len() == 32 && reference.chars().all(|c| c.is_ascii_hexdigit());
        let reference = if ok { reference } else { "invalid-reference" };
        (
            self.dir.join(format!("{reference}.sealed")),
            self.dir.join(format!("{reference}.key")),
        )
    }

    /// Seals what `reader` yields, synced to disk; the job exists once its sealed file
    /// does (the wrapped key is written first).
    pub async fn park(&self, reader: &mut (dyn AsyncRead + Unpin)) -> std::io::Result<String> {
        let reference = uuid::Uuid::new_v4().simple().to_string();
        let (sealed, key_path) = self.paths(&reference);
        let parked = async {
            // Sealed under a staging name, then the key, then published: a `.sealed`
            // file always has its key beside it.
            let staged = sealed.with_extension("staged");
            let (wrapped, _) =
                local::seal_file(&self.key, &reference, &staged, reader, true).await?;
            tokio::fs::write(&key_path, &wrapped).await?;
            tokio::fs::rename(&staged, &sealed).await
        }
        .await;
        if let Err(e) = parked {
            let _ = tokio::fs::remove_file(sealed.with_extension("staged")).await;
            let _ = tokio::fs::remove_file(&key_path).await;
            return Err(e);
        }
        Ok(reference)
    }

    pub async fn open(
        &self,
        reference: &str,
    ) -> std::io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        let (sealed, key_path) = self.paths(reference);
        let wrapped = tokio::fs::read(&key_path).await?;
        local::open_file(&self.key, reference, &sealed, &wrapped)
            .await
            .map_err(|e| {
                std::io::Error::other(format!(
                    "{e} (the site key does not open this job: was the site password changed?)"
                ))
            })
    }

    /// The sealed file and its wrapped key (base64), for the failover copy.
    pub async fn copy_of(&self, reference: &str) -> std::io::Result<(PathBuf, String)> {
        use base64::Engine;
        let (sealed, key_path) = self.paths(reference);
        let wrapped = tokio::fs::read(&key_path).await?;
        Ok((
            sealed,
            base64::engine::general_purpose::STANDARD.encode(wrapped),
        ))
    }

    /// Takes in another agent's job from its failover copy, as sealed (the site key
    /// opens it here as there).
    pub async fn import(
        &self,
        reference: &str,
        wrapped_b64: &str,
        reader: &mut (dyn AsyncRead + Send + Unpin),
    ) -> std::io::Result<()> {
        use base64::Engine;
        if reference.is_empty() || !reference.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(std::io::Error::other("bad job reference"));
        }
        let wrapped = base64::engine::general_purpose::STANDARD
            .decode(wrapped_b64)
            .map_err(|_| std::io::Error::other("bad wrapped key"))?;
        let (sealed, key_path) = self.paths(reference);
        let partial = sealed.with_extension("partial");
        let mut file = tokio::fs::File::create(&partial).await?;
        let copied = tokio::io::copy(reader, &mut file).await;
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        file.flush().await?;
        tokio::fs::write(&key_path, wrapped).await?;
        tokio::fs::rename(&partial, &sealed).await
    }

    pub async fn remove(&self, reference: &str) {
        let (sealed, key_path) = self.paths(reference);
        let _ = tokio::fs::remove_file(sealed).await;
        let _ = tokio::fs::remove_file(key_path).await;
    }

    /// Every job kept here.
    pub fn references(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_suffix(".sealed")
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What the local queue needs.
pub struct LocalQueue {
    pub channel: Channel,
    pub credential: (String, String),
    pub store: Arc<ParkedStore>,
    /// The owner of every job (a single-user workstation); else requesting-user-name.
    pub owner: Option<String>,
    /// The queue's printer-uuid (stable: derived from the agent's login).
    pub uuid: String,
    /// Upload each job's failover copy (the server's setting, from the heartbeat).
    pub failover: Arc<std::sync::atomic::AtomicBool>,
    pub uri: String,
}

/// Serves the local IPP queue on `listen` until the process ends.
pub fn serve(
    queue: LocalQueue,
    listen: std::net::SocketAddr,
) -> Result<actix_web::dev::Server, AgentError> {
    let queue = web::Data::new(queue);
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(queue.clone())
            .route("/ipp/print", web::post().to(ipp))
            .route("/", web::post().to(ipp))
    })
    .workers(1)
    .disable_signals()
    .bind(listen)
    .map_err(|e| AgentError::Setup(format!("the local queue cannot listen on {listen}: {e}")))?
    .run();
    Ok(server)
}

/// Is `host` (a `Host` header) this computer's loopback interface by a literal name:
/// `127.0.0.1`, `[::1]` or `localhost`, with or without a port? A web page that
/// rebinds its own DNS name to 127.0.0.1 still sends its own name here.
fn is_loopback_host(host: &str) -> bool {
    let port_ok = |port: &str| {
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()
    };
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some(("::1", "")) => true,
            Some(("::1", port)) => port.strip_prefix(':').is_some_and(port_ok),
            _ => false,
        };
    }
    let name = match host.split_once(':') {
        Some((name, port)) if port_ok(port) => name,
        Some(_) => return false,
        None => host,
    };
    name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost")
}

/// Only the computer's own IPP clients may print here. Refused before the body is
/// read: a `Host` that is not a loopback literal (DNS rebinding: a web page's own
/// name resolved to 127.0.0.1) and any `Origin` (browsers send one on cross-origin
/// POSTs; IPP clients never do).
fn refuse_browsers(req: &HttpRequest) -> Option<HttpResponse> {
    let headers = req.headers();
    if headers.contains_key(actix_web::http::header::ORIGIN) {
        return Some(
            HttpResponse::Forbidden().body("this queue takes jobs from this computer's IPP clients only (a request with an Origin came from a web page)"),
        );
    }
    let hosts = headers
        .get_all(actix_web::http::header::HOST)
        .collect::<Vec<_>>();
    let loopback = matches!(hosts.as_slice(), [host] if host.to_str().is_ok_and(is_loopback_host));
    if !loopback {
        return Some(HttpResponse::Forbidden().body(
            "this queue answers only to Host 127.0.0.1, [::1] or localhost (with the port)",
        ));
    }
    None
}

async fn ipp(
    req: HttpRequest,
    payload: web::Payload,
    queue: web::Data<LocalQueue>,
) -> HttpResponse {
    if let Some(refused) = refuse_browsers(&req) {
        tracing::warn!(
            host = ?req.headers().get(actix_web::http::header::HOST),
            origin = ?req.headers().get(actix_web::http::header::ORIGIN),
            "refused a request to the workstation queue that did not come from a local IPP client"
        );
        return refused;
    }
    // Only IPP clients: a web page cannot send `application/ipp` to 127.0.0.1 without
    // a CORS preflight, which this queue never answers.
    let is_ipp = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/ipp"));
    if !is_ipp {
        return HttpResponse::UnsupportedMediaType()
            .body("this is an IPP printer: send application/ipp");
    }
    let mut body = StreamReader::new(payload.map_err(|e| std::io::Error::other(e.to_string())));
    let answer = match read_message(&mut body, Limits::default()).await {
        // The same request rules as the server's queue (RFC 8011 §4.1: versions,
        // request-id, group order, charset, value syntaxes, a target on this host).
        Ok(request) => match check_request(&request, &[queue.uri.as_str()]) {
            Ok(()) => handle(&queue, &request, &mut body).await,
            Err((code, message)) => response(&request, code, &message),
        },
        Err(e) => return HttpResponse::BadRequest().body(format!("malformed IPP request: {e}")),
    };
    HttpResponse::Ok()
        .content_type("application/ipp")
        .body(encode(&answer))
}

async fn handle(
    queue: &LocalQueue,
    request: &Message,
    body: &mut (dyn AsyncRead + Unpin),
) -> Message {
    match request.code {
        op::GET_PRINTER_ATTRIBUTES => {
            let description = QueueDescription {
                uri: queue.uri.clone(),
                more_info: queue
                    .channel
                    .ipps_uri("/portal")
                    .replacen("ipps://", "https://", 1),
                admin_url: String::new(),
                icon_url: String::new(),
                uuid: queue.uuid.clone(),
                name: "PrintPark (kept on this computer)".into(),
                location: String::new(),
                up_since: 0,
                now: crate::db::now(),
                queued_jobs: 0,
            };
            let requested = request
                .operation_attr("requested-attributes")
                .map(|a| a.values.as_slice());
            let mut message = response(request, status::OK, "");
            let mut printer = Group::new(group::PRINTER);
            printer.attributes = select(local_attributes(&description), requested);
            message.groups.push(printer);
            message
        }
        op::VALIDATE_JOB | op::GET_JOBS => response(request, status::OK, ""),
        op::PRINT_JOB => print_job(queue, request, body).await,
        op::GET_JOB_ATTRIBUTES => {
            // Parked: it waits for its owner at a printer.
            let mut message = response(request, status::OK, "");
            message.groups.push(job_group(
                queue,
                request.operation_int("job-id").unwrap_or(0),
            ));
            message
        }
        other => response(
            request,
            status::OPERATION_NOT_SUPPORTED,
            &format!("operation 0x{other:04x} is not supported"),
        ),
    }
}

/// The secure queue's description, less what this small queue does not do: it takes
/// Print-Job only, uncompressed, over plain IPP on the loopback interface.
fn local_attributes(description: &QueueDescription) -> Vec<Attribute> {
    let ops = [
        op::PRINT_JOB,
        op::VALIDATE_JOB,
        op::GET_JOBS,
        op::GET_JOB_ATTRIBUTES,
        op::GET_PRINTER_ATTRIBUTES,
    ];
    all_attributes(description)
        .into_iter()
        .map(|attribute| match attribute.name.as_str() {
            "operations-supported" => Attribute::many(
                "operations-supported",
                ops.iter().map(|o| Value::Enum(i32::from(*o))).collect(),
            ),
            "compression-supported" => {
                Attribute::new("compression-supported", Value::keyword("none"))
            }
            "uri-security-supported" => {
                Attribute::new("uri-security-supported", Value::keyword("none"))
            }
            "uri-authentication-supported" => Attribute::new(
                "uri-authentication-supported",
                Value::keyword("requesting-user-name"),
            ),
            "multiple-document-jobs-supported" => {
                Attribute::new("multiple-document-jobs-supported", Value::Boolean(false))
            }
            _ => attribute,
        })
        .collect()
}

fn job_group(queue: &LocalQueue, id: i32) -> Group {
    let mut job = Group::new(group::JOB);
    job.push(Attribute::new("job-id", Value::Integer(id)));
    job.push(Attribute::new(
        "job-uri",
        Value::uri(&format!("{}/{id}", queue.uri)),
    ));
    job.push(Attribute::new("job-state", Value::Enum(9)));
    job.push(Attribute::new(
        "job-state-reasons",
        Value::keyword("job-completed-successfully"),
    ));
    job.push(Attribute::new(
        "job-state-message",
        Value::text("Kept on this computer until you release it at a printer"),
    ));
    job
}

async fn print_job(
    queue: &LocalQueue,
    request: &Message,
    body: &mut (dyn AsyncRead + Unpin),
) -> Message {
    let owner = queue
        .owner
        .clone()
        .or_else(|| {
            request
                .operation_str("requesting-user-name")
                .map(str::to_string)
        })
        .filter(|o| !o.trim().is_empty());
    let Some(owner) = owner else {
        return response(
            request,
            status::NOT_AUTHENTICATED,
            "requesting-user-name is required (or start the agent with --owner)",
        );
    };
    if request
        .operation_str("compression")
        .is_some_and(|c| c != "none")
    {
        return response(
            request,
            status::COMPRESSION_NOT_SUPPORTED,
            "this queue takes uncompressed documents",
        );
    }
    let mut analysing = AnalyzingReader::new(body, MAX_JOB);
    let reference = match queue.store.park(&mut analysing).await {
        Ok(reference) => reference,
        Err(e) => {
            tracing::warn!(error = %e, "a job could not be parked");
            return response(
                request,
                status::BAD_REQUEST,
                &format!("the document could not be read: {e}"),
            );
        }
    };
    let size = analysing.bytes;
    let analysis = analysing.analyzer.finish();
    let name = request
        .operation_str("job-name")
        .unwrap_or("Untitled")
        .to_string();
    let int = |name: &str| {
        request
            .job_attr(name)
            .and_then(|a| a.first())
            .and_then(Value::as_int)
    };
    let job = WorkstationJob {
        agent_ref: reference.clone(),
        owner: owner.clone(),
        name,
        format: analysis.format.to_string(),
        pages: analysis.pages,
        color: analysis.color,
        size_bytes: size as i64,
        copies: i64::from(int("copies").unwrap_or(1)),
        sides: request
            .job_attr("sides")
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .unwrap_or("one-sided")
            .to_string(),
    };
    match queue
        .channel
        .park_job((&queue.credential.0, &queue.credential.1), &job)
        .await
    {
        Ok(job_id) => {
            tracing::info!(job = job_id, owner = %owner, bytes = size, "job kept on this workstation, sealed with the site key");
            if queue.failover.load(std::sync::atomic::Ordering::Relaxed) {
                upload_copy(queue, job_id, &reference).await;
            }
            let mut message = response(request, status::OK, "");
            message.groups.push(job_group(queue, job_id as i32));
            message
        }
        Err(AgentError::Refused(reason)) => {
            // The server will not take it (this agent may not park for that person):
            // trying again would not help.
            queue.store.remove(&reference).await;
            tracing::warn!(owner = %owner, reason = %reason, "the server refused the job");
            response(
                request,
                status::NOT_AUTHORIZED,
                &format!("PrintPark refused the job: {reason}"),
            )
        }
        Err(e) => {
            // The OS keeps the job in its queue and tries again; nothing stays here.
            queue.store.remove(&reference).await;
            tracing::warn!(error = %e, "the server did not take the job's metadata");
            response(
                request,
                status::SERVICE_UNAVAILABLE,
                &format!("PrintPark could not take the job: {e}"),
            )
        }
    }
}

/// The failover copy: the same sealed bytes; the job stays here either way.
async fn upload_copy(queue: &LocalQueue, job_id: i64, reference: &str) {
    let cred = (queue.credential.0.as_str(), queue.credential.1.as_str());
    let uploaded = match queue.store.copy_of(reference).await {
        Ok((sealed, wrapped)) => {
            queue
                .channel
                .upload_copy(cred, job_id, &wrapped, &sealed)
                .await
        }
        Err(e) => Err(AgentError::State(e.to_string())),
    };
    match uploaded {
        Ok(()) => tracing::info!(
            job = job_id,
            "failover copy uploaded (sealed with the site key)"
        ),
        Err(e) => {
            tracing::warn!(job = job_id, error = %e, "the failover copy could not be uploaded; the job is only on this workstation")
        }
    }
}

/// Delivers what the server orders, until the process ends.
pub async fn deliver_orders(
    channel: Channel,
    credential: (String, String),
    store: Arc<ParkedStore>,
    state: AgentState,
) {
    let cred = (credential.0.as_str(), credential.1.as_str());
    // Orders taken before a restart: the printer may hold them.
    if let Ok(rows) = state.deliveries("workstation").await {
        for row in rows {
            let outcome = if row.phase == "done" {
                AgentOutcome {
                    outcome: outcome_word(row.outcome).into(),
                    message: row.message.clone(),
                }
            } else {
                AgentOutcome {
                    outcome: "unknown".into(),
                    message: "the agent stopped while delivering".into(),
                }
            };
            report(&channel, cred, &state, row.job_id, &outcome).await;
        }
    }
    loop {
        let request = AgentOrdersRequest {
            refs: store.references(),
        };
        match channel.orders(cred, &request).await {
            Ok(orders) => {
                for reference in &orders.discard {
                    store.remove(reference).await;
                }
                for order in orders.orders {
                    deliver(&channel, cred, &store, &state, &order).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "asking the server for releases failed; trying again");
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        }
    }
}

fn outcome_word(state: i64) -> &'static str {
    match state {
        9 => "printed",
        0 => "not-printed",
        _ => "unknown",
    }
}

async fn deliver(
    channel: &Channel,
    cred: (&str, &str),
    store: &ParkedStore,
    state: &AgentState,
    order: &AgentOrder,
) {
    // A lost answer must not leave the release taken and undelivered: the claim is
    // idempotent, so it is asked again while the server cannot be reached.
    let mut claimed = channel.claim(cred, order.release_id).await;
    for _ in 0..30 {
        match claimed {
            Err(AgentError::Unreachable(_)) => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                claimed = channel.claim(cred, order.release_id).await;
            }
            _ => break,
        }
    }
    if let Err(e) = claimed {
        tracing::info!(release = order.release_id, error = %e, "not taking this release");
        return;
    }
    // The server's lease on the release is kept while the job is fetched, sent and
    // followed (a long job, a printer warming up).
    let keep_lease = async {
        loop {
            tokio::time::sleep(Duration::from_secs(15)).await;
            if let Err(e) = channel.renew(cred, order.release_id).await {
                tracing::debug!(release = order.release_id, error = %e, "renewing the release's lease failed");
            }
        }
    };
    let delivered = async {
        if order.failover {
            // The workstation that keeps the job is away: its failover copy, sealed
            // with the site key this agent holds too.
            let fetched = match channel.download_copy(cred, order.job_id).await {
                Ok((wrapped, mut reader)) => store
                    .import(&order.agent_ref, &wrapped, &mut reader)
                    .await
                    .map_err(|e| AgentError::Unreachable(e.to_string())),
                Err(e) => Err(e),
            };
            if let Err(e) = fetched {
                return (0, format!("the failover copy could not be fetched: {e}"));
            }
            tracing::info!(
                release = order.release_id,
                "delivering another workstation's job from its failover copy"
            );
        }
        let _ = state
            .record("workstation", order.release_id, "sending", 0, "")
            .await;
        send(store, state, order).await
    };
    let (code, message) = tokio::select! {
        outcome = delivered => outcome,
        _ = keep_lease => unreachable!("the lease keeper never ends"),
    };
    let _ = state
        .record("workstation", order.release_id, "done", code, &message)
        .await;
    if code == 9 || order.failover {
        store.remove(&order.agent_ref).await;
    }
    let outcome = AgentOutcome {
        outcome: outcome_word(code).into(),
        message,
    };
    report(channel, cred, state, order.release_id, &outcome).await;
}

/// (job state as in `state.rs`: 9 printed, 0 nothing sent, 8 unknown; message)
async fn send(store: &ParkedStore, state: &AgentState, order: &AgentOrder) -> (i64, String) {
    let job = PushJob {
        name: order.job_name.clone(),
        user_name: order.owner.clone(),
        format: if order.format.is_empty() {
            "application/octet-stream".into()
        } else {
            order.format.clone()
        },
        copies: order.copies.clamp(1, 999) as u32,
        sides: order.sides.clone(),
        color_mode: order.color_mode.clone(),
        page_ranges: None,
        media: None,
    };
    // The printer's certificate is pinned on first use, as the server and the site
    // agent do: a machine that takes its place later gets nothing.
    let pin = state.printer_pin(&order.printer_uri).await.ok().flatten();
    let target = PushTarget {
        uri: order.printer_uri.clone(),
        tls_pin: pin.clone(),
        ..Default::default()
    };
    let timeouts = Default::default();
    let mut attempts = 0;
    let link = loop {
        match push::connect(&target, &job, &timeouts).await {
            Ok(link) => break link,
            // Busy with another job (the server's, say): ask again for two minutes.
            Err(PushError::NotSent {
                retry_later: true, ..
            }) if attempts < 60 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return (0, e.reason().to_string()),
        }
    };
    if let (None, Some(seen)) = (&pin, link.cert_sha256()) {
        let _ = state.pin_printer(&order.printer_uri, seen).await;
    }
    let mut source = ParkedJob {
        store,
        reference: &order.agent_ref,
    };
    match link.send(&job, &mut source).await {
        Ok(sent) => match sent.follow(Duration::from_secs(600)).await {
            Completion::Completed => (9, String::new()),
            Completion::Failed(reason) => (0, format!("the printer did not print it: {reason}")),
            Completion::Unknown(reason) => (8, format!("sent in full, then {reason}")),
        },
        Err(e @ PushError::Interrupted { .. }) => (8, e.reason().to_string()),
        Err(e) => (0, e.reason().to_string()),
    }
}

async fn report(
    channel: &Channel,
    cred: (&str, &str),
    state: &AgentState,
    release_id: i64,
    outcome: &AgentOutcome,
) {
    loop {
        match channel.outcome(cred, release_id, outcome).await {
            Ok(()) | Err(AgentError::Refused(_)) => break,
            Err(e) => {
                tracing::warn!(release = release_id, error = %e, "reporting a delivery failed; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
    let _ = state.forget("workstation", release_id).await;
}

struct ParkedJob<'a> {
    store: &'a ParkedStore,
    reference: &'a str,
}

impl push::DocumentSource for ParkedJob<'_> {
    fn count(&self) -> u32 {
        1
    }

    fn open(&mut self, _number: u32) -> push::OpenDocument<'_> {
        Box::pin(self.store.open(self.reference))
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_literals_are_this_computer() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8631",
            "[::1]",
            "[::1]:8631",
            "localhost",
            "LocalHost:631",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:8631",
            "evil.example",
            "127.0.0.1.evil.example",
            "localhost.evil.example:8631",
            "127.0.0.2:8631",
            "[::2]:8631",
            "[::1]x",
            "127.0.0.1:",
            "127.0.0.1:99999",
            "127.0.0.1:+80",
            "localhost:8631:1",
            "",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
