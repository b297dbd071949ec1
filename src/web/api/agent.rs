//! The on-site agent's control channel (`printpark agent`): enrolment with a one-time
//! code, then a heartbeat (HTTP Basic with the agent's own credential) that reports
//! its health and answers which printers it serves. The jobs themselves travel over
//! IPP INFRA (`web/ipp/infra.rs`), with one output device credential per printer.

use actix_web::{HttpRequest, HttpResponse, web};

use super::error_body::ErrorBody;
use crate::db::AgentRow;
use crate::identity::ClientInfo;
use crate::release::{
    AgentAssignment, AgentCredential, AgentEnrolment, AgentHealth, AgentOrders, AgentOrdersRequest,
    AgentOutcome, WorkstationJob,
};
use crate::web::AppState;
use crate::web::auth::{basic_credentials, client_info};
use crate::web::error::{ApiError, Problem};

fn unauthenticated() -> ApiError {
    ApiError(Problem::new(
        actix_web::http::StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Authenticate as the agent (HTTP Basic with the credential from its enrolment).",
    ))
}

async fn agent(req: &HttpRequest, state: &AppState) -> Result<AgentRow, ApiError> {
    let Some((login, secret)) = basic_credentials(req) else {
        return Err(unauthenticated());
    };
    Ok(state
        .services
        .release
        .infra()
        .authenticate_agent(&login, &secret, &client_info(req))
        .await?)
}

/// Enrol an agent with a one-time code from Admin → Agents. The credential is shown
/// once; it works after an admin approved the agent (403 `awaiting_approval` until then).
#[utoipa::path(post, path = "/api/v1/agent/enrol", request_body = AgentEnrolment,
    responses((status = 200, body = AgentCredential),
        (status = 401, description = "unknown, used or expired code", body = ErrorBody)))]
pub async fn enrol(
    client: ClientInfo,
    state: web::Data<AppState>,
    body: web::Json<AgentEnrolment>,
) -> Result<HttpResponse, ApiError> {
    let credential = state
        .services
        .release
        .infra()
        .enrol_agent(&body, &client)
        .await
        .map_err(|e| match e {
            crate::release::InfraError::Unauthenticated => ApiError(Problem::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "bad_enrolment_code",
                "This enrolment code is unknown, already used or expired: make a new one in Admin → Agents.",
            )),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(credential))
}

/// The agent reports its health and version and learns the printers it serves.
#[utoipa::path(post, path = "/api/v1/agent/heartbeat", request_body = AgentHealth,
    responses((status = 200, body = AgentAssignment), (status = 401, body = ErrorBody),
        (status = 403, description = "enrolled, waiting for an admin's approval (`awaiting_approval`), or reporting another site key id than the admin confirmed (`site_key_mismatch`, audited)", body = ErrorBody)),
    security(("basic" = [])))]
pub async fn heartbeat(
    req: HttpRequest,
    client: ClientInfo,
    state: web::Data<AppState>,
    body: web::Json<AgentHealth>,
) -> Result<HttpResponse, ApiError> {
    let Some((login, secret)) = basic_credentials(&req) else {
        return Err(unauthenticated());
    };
    let infra = state.services.release.infra();
    // A pending agent reports too (the site key id the admin is to confirm).
    let agent = infra.verify_agent(&login, &secret, &client).await?;
    let assignment = infra
        .heartbeat(&agent, &body, &client)
        .await
        .map_err(|e| match e {
            crate::release::InfraError::NotPossible(message) => ApiError(Problem::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "site_key_mismatch",
                message,
            )),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(assignment))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ParkedJob {
    pub job_id: i64,
}

/// A workstation agent parked a job: only its metadata comes here; the document stays
/// on the workstation, sealed with the site key.
#[utoipa::path(post, path = "/api/v1/agent/jobs", request_body = WorkstationJob,
    responses((status = 200, body = ParkedJob), (status = 401, body = ErrorBody),
        (status = 403, description = "the admin did not let this agent park for that user, or has not confirmed its site key (`not_allowed`, audited)", body = ErrorBody),
        (status = 404, description = "no such user", body = ErrorBody)),
    security(("basic" = [])))]
pub async fn park(
    req: HttpRequest,
    client: ClientInfo,
    state: web::Data<AppState>,
    body: web::Json<WorkstationJob>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent(&req, &state).await?;
    // Issue 20: copies out of range are refused with the limit, as on every way in.
    crate::jobs::options::check_copies(body.copies).map_err(crate::jobs::JobError::from)?;
    let job_id = state
        .services
        .release
        .infra()
        .park_workstation_job(&agent, &body, &client)
        .await
        .map_err(|e| match e {
            crate::release::InfraError::NotPossible(message) => ApiError(Problem::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "not_allowed",
                message,
            )),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(ParkedJob { job_id }))
}

/// Releases of jobs this agent keeps, to deliver (held up to 25 s until there is one),
/// and the documents it may delete.
#[utoipa::path(post, path = "/api/v1/agent/orders", request_body = AgentOrdersRequest,
    responses((status = 200, body = AgentOrders), (status = 401, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn orders(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<AgentOrdersRequest>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent(&req, &state).await?;
    let orders = state
        .services
        .release
        .infra()
        .agent_orders(&agent, &body)
        .await?;
    Ok(HttpResponse::Ok().json(orders))
}

/// `claim`: take a release before sending anything to the printer (idempotent).
/// `renew`: keep its lease while the printer works (every 15 s).
#[utoipa::path(post, path = "/api/v1/agent/orders/{id}/{step}",
    params(("id" = i64, Path), ("step" = String, Path, description = "claim | renew")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404)),
    security(("basic" = [])))]
pub async fn order_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent(&req, &state).await?;
    let (id, step) = path.into_inner();
    let infra = state.services.release.infra();
    match step.as_str() {
        "claim" => infra.claim_order(&agent, id).await?,
        "renew" => infra.renew_order(&agent, id).await?,
        _ => return Err(ApiError(Problem::not_found())),
    }
    Ok(HttpResponse::NoContent().finish())
}

/// How the delivery ended.
#[utoipa::path(post, path = "/api/v1/agent/orders/{id}/outcome", request_body = AgentOutcome,
    responses((status = 204), (status = 400, body = ErrorBody)), security(("basic" = [])))]
pub async fn outcome(
    req: HttpRequest,
    client: ClientInfo,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Json<AgentOutcome>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent(&req, &state).await?;
    state
        .services
        .release
        .infra()
        .order_outcome(&agent, path.into_inner(), &body, &client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The failover copy of a job this agent keeps: the body is the document sealed with
/// the site key, `X-Wrapped-Key` its data key wrapped by the site key (base64). The
/// server cannot open either; it seals the bytes once more at rest.
#[utoipa::path(put, path = "/api/v1/agent/jobs/{id}/copy",
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn put_copy(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use futures_util::TryStreamExt;
    let agent = agent(&req, &state).await?;
    let key = req
        .headers()
        .get("x-wrapped-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut body = tokio_util::io::StreamReader::new(
        payload.map_err(|e| std::io::Error::other(e.to_string())),
    );
    state
        .services
        .release
        .infra()
        .store_failover_copy(&agent, path.into_inner(), &key, &mut body)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A failover copy, for the agent that took a release of the job (its owner's
/// workstation being away).
#[utoipa::path(get, path = "/api/v1/agent/jobs/{id}/copy",
    responses((status = 200, description = "the sealed bytes; X-Wrapped-Key header"), (status = 400, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn get_copy(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent(&req, &state).await?;
    let (key, reader) = state
        .services
        .release
        .infra()
        .open_failover_copy(&agent, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Wrapped-Key", key))
        .content_type("application/octet-stream")
        .streaming(tokio_util::io::ReaderStream::with_capacity(
            reader,
            64 * 1024,
        )))
}
