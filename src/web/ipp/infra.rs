//! The Infrastructure Printer's HTTP face (IPP INFRA): `POST /ipp/system` and
//! `POST /ipp/infra/{guid}`, for output devices only, over TLS only (these routes are
//! not on the plain-IPP listener). Output devices sign in with HTTP Basic (their
//! login and secret from enrolment); a request without credentials gets 401 and
//! `WWW-Authenticate: Basic`, as the reference proxy expects. User credentials never
//! work here, and a device only reaches the printer it was enrolled for.

use actix_web::{HttpRequest, HttpResponse, web};
use async_compression::tokio::bufread::GzipEncoder;
use futures_util::StreamExt;
use tokio::io::BufReader;
use tokio_util::io::ReaderStream;

use super::transport::{
    REALM, body_of, content_type_refusal, ipp_response, refuse_unread, wire_refusal,
};
use crate::ipp::printer::QueueDescription;
use crate::ipp::reply::response;
use crate::ipp::{status, wire};
use crate::release::{DeviceCaller, InfraError};
use crate::web::AppState;
use crate::web::auth::{basic_credentials, client_info};

mod context;
mod describe;
mod jobs;
mod operations;

use context::{Answer, InfraContext};

pub(super) async fn system(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    serve(req, payload, state, None).await
}

pub(super) async fn printer(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let guid = req.match_info().get("guid").unwrap_or_default().to_owned();
    serve(req, payload, state, Some(guid)).await
}

/// What an INFRA request without a device's valid credentials sends at most: its
/// attributes (no INFRA request carries a document), drained unread so the device's
/// signed-in retry can use the connection.
const REFUSED_BODY_LIMIT: u64 = 1024 * 1024;

/// Why a request was not let in.
enum Refusal {
    /// No or wrong device credentials: 401 with the Basic challenge.
    SignIn,
    /// The check itself failed (the database): 503.
    Unavailable,
}

/// The output device signing in, decided from the request head alone.
async fn device(req: &HttpRequest, state: &AppState) -> Result<DeviceCaller, Refusal> {
    let Some((login, secret)) = basic_credentials(req) else {
        return Err(Refusal::SignIn);
    };
    match state
        .services
        .release
        .infra()
        .authenticate(&login, &secret, &client_info(req))
        .await
    {
        Ok(caller) => Ok(caller),
        Err(InfraError::Unauthenticated) => Err(Refusal::SignIn),
        Err(e) => {
            tracing::error!(error = %e, "authenticating an output device failed");
            Err(Refusal::Unavailable)
        }
    }
}

fn describe(
    req: &HttpRequest,
    state: &AppState,
    caller: &DeviceCaller,
) -> (QueueDescription, String) {
    let host = req.connection_info().host().to_owned();
    let printer = &caller.printer;
    let queue = QueueDescription {
        uri: format!("ipps://{host}/ipp/infra/{}", printer.guid),
        more_info: format!("https://{host}/portal"),
        admin_url: format!("https://{host}/admin/printers/{}", printer.id),
        icon_url: format!("https://{host}{}", crate::web::assets::url("icon.png")),
        uuid: printer.guid.clone(),
        name: printer.name.clone(),
        location: printer.location.clone(),
        up_since: state.started_at,
        now: crate::clock::now(),
        operation_time_out: crate::jobs::INCOMING_TIMEOUT_SECS as i32,
        queued_jobs: 0,
    };
    (queue, format!("ipps://{host}/ipp/system"))
}

async fn serve(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    guid: Option<String>,
) -> HttpResponse {
    if let Some(refusal) = content_type_refusal(&req) {
        return refusal;
    }
    // Credentials travel in the head: they are decided before a byte of the body is
    // read, so a stranger never gets the server to parse anything.
    let mut body = body_of(&req, payload);
    let caller = match device(&req, &state).await {
        Ok(caller) => caller,
        Err(Refusal::SignIn) => {
            let mut response = HttpResponse::Unauthorized();
            response.insert_header((actix_web::http::header::WWW_AUTHENTICATE, REALM));
            return refuse_unread(
                response,
                "Sign in with this output device's login and secret (from its enrolment).",
                body,
                REFUSED_BODY_LIMIT,
            );
        }
        Err(Refusal::Unavailable) => {
            let mut response = HttpResponse::ServiceUnavailable().finish();
            response
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
            return response;
        }
    };
    let request = match wire::read_message(&mut body, wire::Limits::default()).await {
        Ok(request) => request,
        Err(e) => return wire_refusal(e),
    };
    let infra = state.services.release.infra();
    let answer = match guid {
        // A device reaches only its own printer: any other is "not found".
        Some(guid) if guid != caller.printer.guid => Answer {
            message: response(
                &request,
                status::NOT_FOUND,
                "no such printer for this output device",
            ),
            document: None,
            gzip: false,
        },
        guid => {
            let (queue, system_uri) = describe(&req, &state, &caller);
            let ctx = InfraContext {
                infra: &infra,
                caller: &caller,
                queue,
                system_uri,
                on_system: guid.is_none(),
                public_url: state
                    .services
                    .site
                    .public_address()
                    .map(|a| a.as_str().to_owned()),
            };
            operations::handle(&ctx, &request).await
        }
    };
    metrics::counter!("printpark_infra_requests_total", "operation" => format!("0x{:04x}", request.code), "status" => format!("0x{:04x}", answer.message.code)).increment(1);
    let mut response = ipp_response(&mut body).await;
    let head = bytes::Bytes::from(wire::encode(&answer.message));
    match answer.document {
        None => response.body(head),
        Some(document) => {
            // Decrypted chunk by chunk as the device reads; never a clear copy.
            let document: Box<dyn tokio::io::AsyncRead + Send + Unpin> = if answer.gzip {
                Box::new(GzipEncoder::new(BufReader::new(document)))
            } else {
                document
            };
            let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) })
                .chain(ReaderStream::with_capacity(document, 64 * 1024));
            response.streaming(stream)
        }
    }
}
