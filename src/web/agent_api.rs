//! The on-site agent's control channel (`printpark agent`): enrolment with a one-time
//! code, then a heartbeat (HTTP Basic with the agent's own credential) that reports
//! its health and answers which printers it serves. The jobs themselves travel over
//! IPP INFRA (`web/infra.rs`), with one output device credential per printer.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::{basic_credentials, client_info};
use super::error::{ApiError, Problem};
use crate::db::AgentRow;
use crate::release::{AgentAssignment, AgentCredential, AgentEnrolment, AgentHealth};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/agent/enrol", web::post().to(enrol))
        .route("/api/v1/agent/heartbeat", web::post().to(heartbeat));
}

async fn agent(req: &HttpRequest, state: &AppState) -> Result<AgentRow, ApiError> {
    let Some((login, secret)) = basic_credentials(req) else {
        return Err(ApiError(Problem::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authenticate as the agent (HTTP Basic with the credential from its enrolment).",
        )));
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
        (status = 401, description = "unknown, used or expired code", body = super::api::ErrorBody)))]
pub async fn enrol(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<AgentEnrolment>,
) -> Result<HttpResponse, ApiError> {
    let credential = state
        .services
        .release
        .infra()
        .enrol_agent(&body, &client_info(&req))
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
    responses((status = 200, body = AgentAssignment), (status = 401, body = super::api::ErrorBody),
        (status = 403, description = "enrolled, waiting for an admin's approval", body = super::api::ErrorBody)),
    security(("basic" = [])))]
pub async fn heartbeat(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<AgentHealth>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent(&req, &state).await?;
    let assignment = state
        .services
        .release
        .infra()
        .heartbeat(&agent, &body)
        .await?;
    Ok(HttpResponse::Ok().json(assignment))
}
