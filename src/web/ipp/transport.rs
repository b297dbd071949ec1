//! IPP over HTTP (RFC 8010 §4) for both server fronts: the `application/ipp` check,
//! the request body as a reader with its idle time-out, the refusals given before or
//! instead of reading the body, and the head of an IPP answer.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use tokio::io::AsyncReadExt;
use tokio_util::io::StreamReader;

use crate::ipp::wire::WireError;
use crate::web::AppState;
use crate::web::body_timeout::IdleTimeout;

/// The Basic challenge both fronts send (users on the queue, output devices on INFRA).
pub(super) const REALM: &str = "Basic realm=\"PrintPark\", charset=\"UTF-8\"";

/// The request body as a reader (the document stays on it after the attributes). A
/// client that pauses longer than `server.body_idle_timeout_secs` ends it with an error.
pub(super) type Body = StreamReader<IdleTimeout<web::Payload>, bytes::Bytes>;

/// The body of a request, timed by the idle time-out of the settings.
pub(super) fn body_of(req: &HttpRequest, payload: web::Payload) -> Body {
    let idle = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.services.settings.server.body_idle_timeout_secs)
        .unwrap_or(30);
    StreamReader::new(IdleTimeout::new(
        payload,
        std::time::Duration::from_secs(idle),
    ))
}

/// A refusal when the request is not `application/ipp`.
pub(super) fn content_type_refusal(req: &HttpRequest) -> Option<HttpResponse> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/ipp")
    {
        None
    } else {
        Some(
            HttpResponse::BadRequest()
                .content_type("text/plain")
                .body("Content-Type must be application/ipp\n"),
        )
    }
}

/// The HTTP answer to attributes that could not be read.
pub(super) fn wire_refusal(error: WireError) -> HttpResponse {
    match error {
        WireError::TooLarge(what) => HttpResponse::PayloadTooLarge()
            .content_type("text/plain")
            .body(format!("IPP request attributes exceed {what}\n")),
        e => {
            tracing::info!(error = %e, "malformed IPP request");
            HttpResponse::BadRequest()
                .content_type("text/plain")
                .body(format!("{e}\n"))
        }
    }
}

/// A refusal given before the request's body is read: the answer (status and text)
/// goes out at once, then its body's end waits while the rest of the request is read
/// and dropped — never parsed, never stored — or until the client pauses for
/// [`REFUSED_BODY_PAUSE`]: CUPS and ipptool stop sending their document when they see
/// the answer mid-upload and then wait for the answer's end, so waiting for the whole
/// document would hold both sides until a time-out. The answer says
/// `Connection: close`: the client's signed-in retry comes on a new connection, since
/// the refused request's body may be left unsent. Past the largest document the queue
/// takes, the connection is cut instead.
pub(super) fn refuse_unread(
    mut response: actix_web::HttpResponseBuilder,
    text: &str,
    mut body: Body,
    limit: u64,
) -> HttpResponse {
    let text = bytes::Bytes::from(format!("{text}\n"));
    let answer = futures_util::stream::once(async move { Ok::<_, std::io::Error>(text) });
    let discard = futures_util::stream::once(async move {
        let mut scratch = vec![0u8; 64 * 1024];
        let mut dropped: u64 = 0;
        loop {
            match tokio::time::timeout(REFUSED_BODY_PAUSE, body.read(&mut scratch)).await {
                // The client stopped sending (it read the answer) or finished.
                Err(_) | Ok(Ok(0)) => return Ok(()),
                Ok(Ok(n)) => {
                    dropped = dropped.saturating_add(n as u64);
                    if dropped > limit {
                        return Err(std::io::Error::other(
                            "a refused request's body is too large",
                        ));
                    }
                }
                Ok(Err(e)) => return Err(e),
            }
        }
    })
    .filter_map(|done| async move { done.err().map(Err) });
    response
        .content_type("text/plain")
        .force_close()
        .streaming(futures_util::StreamExt::chain(answer, discard))
}

/// How long a refused request's sender may pause before the refusal ends: long enough
/// for a client still sending its document, short enough that one that stopped to
/// read the answer is not kept waiting.
const REFUSED_BODY_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// The start of an IPP answer. A refused request may leave its document unread: a
/// little of what is left is read so the connection can carry the client's next
/// request; past that it is closed, so the client knows to reconnect instead of
/// writing into a dead connection.
pub(super) async fn ipp_response(body: &mut Body) -> actix_web::HttpResponseBuilder {
    let drained = tokio::io::copy(&mut body.take(DRAIN_LIMIT), &mut tokio::io::sink()).await;
    let finished = matches!(drained, Ok(n) if n < DRAIN_LIMIT);
    let mut response = HttpResponse::Ok();
    response
        .content_type("application/ipp")
        // IPP bodies are never content-coded; `identity` also keeps Compress off them.
        .insert_header((header::CONTENT_ENCODING, "identity"));
    if !finished {
        response.force_close();
    }
    response
}

/// Unread request bytes drained after a response before the connection is closed.
const DRAIN_LIMIT: u64 = 4 * 1024 * 1024;
