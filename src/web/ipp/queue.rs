//! The secure queue's HTTP face: `POST /ipp/print` with `Content-Type: application/ipp`.
//! Credentials come from HTTP Basic (username or e-mail + password or app password)
//! or a bearer app password, over TLS only; `requesting-user-name` is ignored.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use tokio::io::AsyncReadExt;

use super::transport::{
    Body, REALM, body_of, content_type_refusal, ipp_response, refuse_unread, wire_refusal,
};
use crate::identity::{IdentityError, User};
use crate::ipp::printer::QueueDescription;
use crate::ipp::reply::is_anonymous;
use crate::ipp::wire::{self, Limits, WireError};
use crate::vault::Vault;
use crate::web::AppState;
use crate::web::auth::{basic_credentials, client_info};

mod attributes;
mod operations;
pub(crate) mod template;

use operations::Context;

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

/// The stable printer UUID of this installation, derived from the lookup secret so
/// every replica (and the DNS-SD announcement) agrees.
pub fn queue_uuid(vault: &Vault) -> String {
    let h = vault.keyed_hash("printer-uuid", b"secure-queue");
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
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
        icon_url: format!("https://{host}{}", crate::web::assets::url("icon.png")),
        uuid: queue_uuid(&state.services.vault),
        name: queue.name.clone(),
        location: queue.location.clone(),
        up_since: state.started_at,
        now: crate::clock::now(),
        operation_time_out: crate::jobs::INCOMING_TIMEOUT_SECS as i32,
        queued_jobs: state
            .services
            .jobs
            .count_held()
            .await
            .unwrap_or(0)
            .min(i32::MAX as i64) as i32,
    }
}

/// What a client without credentials may send as attributes: enough for a
/// Get-Printer-Attributes with its requested-attributes, not more.
const ANONYMOUS_LIMITS: Limits = Limits {
    max_bytes: 16 * 1024,
    max_attributes: 100,
    max_depth: 2,
};

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
        // Issue 16, accounts: an admin-reset password not yet replaced.
        IdentityError::PasswordChangeRequired => refuse_unread(
            HttpResponse::Forbidden(),
            "Your password was reset: choose a new one in the portal first (app passwords still work).",
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
    if !is_anonymous(code) {
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
        // The public address (configured or set on a page): a target URI may name it.
        public_url: state
            .services
            .site
            .public_address()
            .map(|a| a.as_str().to_owned()),
        history_since: crate::clock::now().saturating_sub(
            i64::try_from(
                state
                    .services
                    .settings
                    .queue
                    .history_minutes
                    .saturating_mul(60),
            )
            .unwrap_or(i64::MAX),
        ),
    };
    let answer = operations::handle(&ctx, &request, &mut body).await;
    metrics::counter!("printpark_ipp_requests_total", "operation" => format!("0x{:04x}", request.code), "status" => format!("0x{:04x}", answer.code)).increment(1);
    let mut response = ipp_response(&mut body).await;
    response.body(wire::encode(&answer))
}
