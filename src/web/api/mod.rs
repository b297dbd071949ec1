//! The JSON API under `/api/v1`, described by an OpenAPI document served at
//! `/api/v1/openapi.json` and browsable at `/api/docs/` (Swagger UI, embedded).
//! Errors are `{"error": {"code": "...", "message": "..."}}` with a stable `code`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::OpenApi;

use super::AppState;
use super::auth::{ApiCaller, client_info};
use super::error::ApiError;
use crate::identity::directory::require_admin;
use crate::identity::{NewUserRequest, User};
use crate::jobs::HeldJob;

#[derive(OpenApi)]
#[openapi(
    info(title = "PrintPark API", description = "Self-hosted secure pull printing. Authenticate with the session cookie (writes need the `X-CSRF-Token` header) or `Authorization: Bearer <app password>`."),
    paths(me, list_users, create_user, my_jobs, delete_job,
        super::device_api::sign_in, super::device_api::sign_out, super::device_api::jobs, super::device_api::release,
        super::agent_api::enrol, super::agent_api::heartbeat, super::agent_api::park,
        super::agent_api::orders, super::agent_api::order_step, super::agent_api::outcome,
        super::agent_api::put_copy, super::agent_api::get_copy),
    components(schemas(User, crate::identity::Role, HeldJob, crate::jobs::JobState, NewUserRequest, ErrorBody, ErrorDetail, Me,
        super::device_api::DeviceSignIn, super::device_api::DeviceSession, super::device_api::DeviceRelease, super::device_api::DeviceReleased,
        crate::release::AgentEnrolment, crate::release::AgentCredential, crate::release::AgentHealth,
        crate::release::AgentPrinterHealth, crate::release::AgentAssignment, crate::release::AgentPrinter,
        crate::release::WorkstationJob, crate::release::AgentOrdersRequest, crate::release::AgentOrders,
        crate::release::AgentOrder, crate::release::AgentOutcome, super::agent_api::ParkedJob)),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
            // Output devices (pull release at the device): their enrolment's login
            // and secret.
            components.add_security_scheme(
                "basic",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
            );
        }
    }
}

/// The error envelope of every failed API call.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `unauthenticated`, `forbidden`, `not_found`, `conflict`, `invalid`, `csrf_failed`, `locked`.
    pub code: String,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user: User,
    /// For cookie-authenticated clients: the token to send as `X-CSRF-Token` on writes.
    pub csrf_token: Option<String>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/me", web::get().to(me))
        .route("/api/v1/users", web::get().to(list_users))
        .route("/api/v1/users", web::post().to(create_user))
        .route("/api/v1/jobs", web::get().to(my_jobs))
        .route("/api/v1/jobs/{id}", web::delete().to(delete_job));
}

/// Who am I.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = Me), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn me(state: web::Data<AppState>, caller: ApiCaller) -> Result<HttpResponse, ApiError> {
    let csrf_token = caller.session.as_ref().map(|t| {
        state
            .services
            .identity
            .csrf_token(crate::identity::CsrfBinding::Session(&t.0))
    });
    Ok(HttpResponse::Ok().json(Me {
        user: caller.principal.user,
        csrf_token,
    }))
}

/// All users (admins only).
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = [User]), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list_users(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller.principal.user)?;
    Ok(HttpResponse::Ok().json(state.services.identity.list_users().await?))
}

/// Create a user (admins only).
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUserRequest, responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn create_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Json<NewUserRequest>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller.principal.user)?;
    let user = state
        .services
        .identity
        .create_user(Some(&caller.principal.user), &body, &client_info(&req))
        .await?;
    Ok(HttpResponse::Created().json(user))
}

/// My held jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", responses((status = 200, body = [HeldJob]), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn my_jobs(state: web::Data<AppState>, caller: ApiCaller) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(
        state
            .services
            .jobs
            .held_jobs_of(&caller.principal.user)
            .await?,
    ))
}

/// Delete one of my held jobs; its document is purged at once.
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", params(("id" = i64, Path, description = "job id")), responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_job(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .jobs
        .delete(
            &caller.principal.user,
            path.into_inner(),
            &client_info(&req),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
