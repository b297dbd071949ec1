//! The workstation's local IPP queue: Print-Job only, on the loopback interface, for
//! this computer's own clients (browsers refused before the body is read). Each job
//! is analysed as it streams in, sealed into the store, and announced to the server by
//! its metadata only.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use tokio::io::AsyncRead;
use tokio_util::io::StreamReader;

use super::store::ParkedStore;
use crate::agent::AgentError;
use crate::agent::channel::Channel;
use crate::ipp::printer::{QueueDescription, all_attributes, select};
use crate::ipp::reply::{check_request, response};
use crate::ipp::wire::{Attribute, Group, Limits, Message, Value, encode, group, read_message};
use crate::ipp::{op, status};
use crate::jobs::analyse::AnalyzingReader;
use crate::release::WorkstationJob;

/// The largest job the local queue takes.
const MAX_JOB: u64 = 2 * 1024 * 1024 * 1024;

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
                now: crate::clock::now(),
                operation_time_out: crate::jobs::INCOMING_TIMEOUT_SECS as i32,
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
    let job = WorkstationJob {
        agent_ref: reference.clone(),
        owner: owner.clone(),
        name,
        format: analysis.format.to_string(),
        pages: analysis.pages,
        color: analysis.color,
        size_bytes: size as i64,
        copies: i64::from(request.job_int("copies").unwrap_or(1)),
        sides: request.job_str("sides").unwrap_or("one-sided").to_string(),
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
            response(request, status::NOT_AUTHORIZED, refusal_message(&reason))
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

/// The server's own sentence for a refusal (the channel prefixes it with the HTTP
/// status, which says nothing to the person at the computer).
fn refusal_message(reason: &str) -> &str {
    match reason.split_once(": ") {
        Some((status, sentence)) if status.starts_with("HTTP ") && !sentence.is_empty() => sentence,
        _ => reason,
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

#[cfg(test)]
mod tests {
    use super::{is_loopback_host, refusal_message};

    #[test]
    fn a_refusal_says_the_servers_sentence() {
        assert_eq!(
            refusal_message(
                "HTTP 403: PrintPark has no account for the user name 'bob' on this computer"
            ),
            "PrintPark has no account for the user name 'bob' on this computer"
        );
        assert_eq!(refusal_message("no reason"), "no reason");
    }

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
