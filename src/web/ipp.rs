//! The secure queue's HTTP face: `POST /ipp/print` with `Content-Type: application/ipp`.
//! Credentials come from HTTP Basic (username or e-mail + password or app password)
//! or a bearer app password, over TLS only; `requesting-user-name` is ignored.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use tokio::io::AsyncReadExt;
use tokio_util::io::StreamReader;

use super::AppState;
use super::auth::{basic_credentials, client_info};
use crate::identity::{IdentityError, User};
use crate::ipp::operations::{self, Context};
use crate::ipp::printer::QueueDescription;
use crate::ipp::wire::{self, Limits, WireError};

const REALM: &str = "Basic realm=\"PrintPark\", charset=\"UTF-8\"";

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

pub(super) fn challenge(message: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, REALM))
        .content_type("text/plain")
        .body(format!("{message}\n"))
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
        now: crate::db::now(),
        queued_jobs: state
            .services
            .jobs
            .count_held()
            .await
            .unwrap_or(0)
            .min(i32::MAX as i64) as i32,
    }
}

/// The request body as a reader (the document stays on it after the attributes).
pub(super) type Body = StreamReader<
    futures_util::stream::MapErr<
        web::Payload,
        fn(actix_web::error::PayloadError) -> std::io::Error,
    >,
    bytes::Bytes,
>;

fn payload_error(e: actix_web::error::PayloadError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Checks the content type and reads the IPP attributes (with limits); a refusal is
/// the HTTP answer to send.
pub(super) async fn read_request(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(wire::Message, Body), HttpResponse> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/ipp")
    {
        return Err(HttpResponse::BadRequest()
            .content_type("text/plain")
            .body("Content-Type must be application/ipp\n"));
    }
    let stream = payload.map_err(payload_error as fn(_) -> _);
    let mut body = StreamReader::new(stream);
    match wire::read_message(&mut body, Limits::default()).await {
        Ok(request) => Ok((request, body)),
        Err(WireError::TooLarge(what)) => Err(HttpResponse::PayloadTooLarge()
            .content_type("text/plain")
            .body(format!("IPP request attributes exceed {what}\n"))),
        Err(e) => {
            tracing::info!(error = %e, "malformed IPP request");
            Err(HttpResponse::BadRequest()
                .content_type("text/plain")
                .body(format!("{e}\n")))
        }
    }
}

pub async fn print(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (request, mut body) = match read_request(&req, payload).await {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    let user = match credentials(&req, &state).await {
        Credentials::Valid(user) => Some(user),
        Credentials::None if operations::is_anonymous(request.code) => None,
        Credentials::None => {
            return challenge(
                "Sign in with your PrintPark username (or e-mail) and password or app password.",
            );
        }
        Credentials::Refused(IdentityError::Locked { retry_after_secs }) => {
            return HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, retry_after_secs.to_string()))
                .content_type("text/plain")
                .body("Too many failed attempts.\n");
        }
        Credentials::Refused(IdentityError::Disabled) => {
            return HttpResponse::Forbidden()
                .content_type("text/plain")
                .body("This account is disabled.\n");
        }
        Credentials::Refused(IdentityError::InvalidCredentials) => {
            return challenge("Wrong username or password.");
        }
        Credentials::Refused(e) => {
            tracing::error!(error = %e, "authentication failed");
            return HttpResponse::ServiceUnavailable().finish();
        }
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
