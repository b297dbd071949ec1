//! The secure queue's HTTP face: `POST /ipp/print` with `Content-Type: application/ipp`.
//! Credentials come from HTTP Basic (username or e-mail + password or app password)
//! or a bearer app password, over TLS only; `requesting-user-name` is ignored.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use tokio::io::AsyncReadExt;
use tokio_util::io::StreamReader;

use super::AppState;
use super::auth::{basic_credentials, client_info};
use crate::identity::{IdentityError, User};
use crate::ipp::operations::{self, Context};
use crate::ipp::printer::QueueDescription;
use crate::ipp::wire::{self, Limits, WireError};

pub(super) const REALM: &str = "Basic realm=\"PrintPark\", charset=\"UTF-8\"";

enum Credentials {
    None,
    Valid(User),
    Refused(IdentityError),
}

async fn credentials(req: &HttpRequest, state: &AppState) -> Credentials {
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Credentials::None;
    };
    let identity = &state.services.identity;
    let client = client_info(req);
    let result = if let Some(token) = value.strip_prefix("Bearer ") {
        identity.authenticate_bearer(token.trim(), &client).await
    } else if value.starts_with("Basic ") {
        match basic_credentials(req) {
            Some((login, secret)) => identity.authenticate_basic(&login, &secret, &client).await,
            None => Err(IdentityError::InvalidCredentials),
        }
    } else {
        Err(IdentityError::InvalidCredentials)
    };
    match result {
        Ok(principal) => Credentials::Valid(principal.user),
        Err(e) => Credentials::Refused(e),
    }
}

async fn describe_queue(req: &HttpRequest, state: &AppState) -> QueueDescription {
    let (host, scheme) = {
        let info = req.connection_info();
        // The plain-IPP listener (if enabled) describes itself as ipp://.
        let scheme = if info.scheme() == "https" {
            "ipps"
        } else {
            "ipp"
        };
        (info.host().to_owned(), scheme)
    };
    let queue = &state.services.settings.queue;
    QueueDescription {
        uri: format!("{scheme}://{host}/ipp/print"),
        more_info: format!("https://{host}/portal"),
        admin_url: format!("https://{host}/admin"),
        icon_url: format!("https://{host}{}", super::assets::url("icon.png")),
        uuid: crate::ipp::printer::queue_uuid(&state.services.vault),
        name: queue.name.clone(),
        location: queue.location.clone(),
        up_since: state.started_at,
        now: crate::clock::now(),
        queued_jobs: state
            .services
            .jobs
            .count_held()
            .await
            .unwrap_or(0)
            .min(i32::MAX as i64) as i32,
    }
}

/// The request body as a reader (the document stays on it after the attributes). A
/// client that pauses longer than `server.body_idle_timeout_secs` ends it with an error.
pub(super) type Body = StreamReader<super::connections::IdleTimeout<web::Payload>, bytes::Bytes>;

/// The body of a request, timed by the idle time-out of the settings.
pub(super) fn body_of(req: &HttpRequest, payload: web::Payload) -> Body {
    let idle = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.services.settings.server.body_idle_timeout_secs)
        .unwrap_or(30);
    StreamReader::new(super::connections::IdleTimeout::new(
        payload,
        std::time::Duration::from_secs(idle),
    ))
}

/// What a client without credentials may send as attributes: enough for a
/// Get-Printer-Attributes with its requested-attributes, not more.
const ANONYMOUS_LIMITS: Limits = Limits {
    max_bytes: 16 * 1024,
    max_attributes: 100,
    max_depth: 2,
};

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
/// and dropped — never parsed, never stored — so the connection can carry the client's
/// signed-in retry (CUPS and ipptool send their whole document before they read the
/// answer, then retry on the same connection). Past the largest document the queue
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
        let dropped = tokio::io::copy(
            &mut (&mut body).take(limit.saturating_add(1)),
            &mut tokio::io::sink(),
        )
        .await?;
        if dropped > limit {
            return Err(std::io::Error::other(
                "a refused request's body is too large",
            ));
        }
        Ok(())
    })
    .filter_map(|done| async move { done.err().map(Err) });
    response
        .content_type("text/plain")
        .streaming(futures_util::StreamExt::chain(answer, discard))
}

/// The answer to a client whose credentials were refused (decided from the head
/// alone, before a byte of the body is read).
fn refused(error: IdentityError, body: Body, limit: u64) -> HttpResponse {
    match error {
        IdentityError::Locked { retry_after_secs } => {
            let mut response = HttpResponse::TooManyRequests();
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            refuse_unread(response, "Too many failed attempts.", body, limit)
        }
        IdentityError::Disabled => refuse_unread(
            HttpResponse::Forbidden(),
            "This account is disabled.",
            body,
            limit,
        ),
        IdentityError::InvalidCredentials => {
            let mut response = HttpResponse::Unauthorized();
            response.insert_header((header::WWW_AUTHENTICATE, REALM));
            refuse_unread(response, "Wrong username or password.", body, limit)
        }
        e => {
            tracing::error!(error = %e, "authentication failed");
            let mut response = HttpResponse::ServiceUnavailable().finish();
            response
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
            response
        }
    }
}

/// The answer to an operation that needs credentials when none came.
fn sign_in_first(body: Body, limit: u64) -> HttpResponse {
    let mut response = HttpResponse::Unauthorized();
    response.insert_header((header::WWW_AUTHENTICATE, REALM));
    refuse_unread(
        response,
        "Sign in with your PrintPark username (or e-mail) and password or app password.",
        body,
        limit,
    )
}

/// Reads the attributes of a request that came without credentials: the operation is
/// known from the first 8 bytes, and only an anonymous one is read further (with small
/// limits).
/// `Err(None)`: the operation needs sign-in (nothing more was read).
async fn read_anonymous(body: &mut Body) -> Result<wire::Message, Option<HttpResponse>> {
    let mut head = [0u8; 8];
    if let Err(e) = body.read_exact(&mut head).await {
        return Err(Some(wire_refusal(WireError::Io(e))));
    }
    let code = u16::from_be_bytes([head[2], head[3]]);
    if !operations::is_anonymous(code) {
        return Err(None);
    }
    let mut rest = (&head[..]).chain(&mut *body);
    wire::read_message(&mut rest, ANONYMOUS_LIMITS)
        .await
        .map_err(|e| Some(wire_refusal(e)))
}

pub async fn print(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refusal) = content_type_refusal(&req) {
        return refusal;
    }
    // Credentials travel in the head: they are decided before the body is read, so a
    // stranger never gets the server to read (or store) a document.
    let mut body = body_of(&req, payload);
    let limit = state.services.jobs.max_bytes();
    let user = match credentials(&req, &state).await {
        Credentials::Valid(user) => Some(user),
        Credentials::None => None,
        Credentials::Refused(e) => return refused(e, body, limit),
    };
    let read = match &user {
        Some(_) => wire::read_message(&mut body, Limits::default())
            .await
            .map_err(|e| Some(wire_refusal(e))),
        None => read_anonymous(&mut body).await,
    };
    let request = match read {
        Ok(request) => request,
        Err(Some(refusal)) => return refusal,
        Err(None) => return sign_in_first(body, limit),
    };
    let ctx = Context {
        jobs: &state.services.jobs,
        queue: describe_queue(&req, &state).await,
        client: client_info(&req),
        user,
        public_url: state.services.settings.server.public_url.clone(),
    };
    let answer = operations::handle(&ctx, &request, &mut body).await;
    metrics::counter!("printpark_ipp_requests_total", "operation" => format!("0x{:04x}", request.code), "status" => format!("0x{:04x}", answer.code)).increment(1);
    let mut response = ipp_response(&mut body).await;
    response.body(wire::encode(&answer))
}

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
