//! The JSON API under `/api/v1`, described by an OpenAPI document served at
//! `/api/v1/openapi.json` and browsable at `/api/docs/` (Swagger UI, embedded).
//! Errors are `{"error": {"code": "...", "message": "..."}}` with a stable `code`.

use actix_web::web;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::identity::{NewUserRequest, User};
use crate::jobs::HeldJob;
use error_body::{ErrorBody, ErrorDetail};

pub mod agent;
pub mod error_body;
pub mod panel;
pub mod users;

#[derive(OpenApi)]
#[openapi(
    info(title = "PrintPark API", description = "Self-hosted secure pull printing. Authenticate with the session cookie (writes need the `X-CSRF-Token` header) or `Authorization: Bearer <app password>`."),
    paths(users::me, users::list_users, users::create_user, users::my_jobs, users::delete_job,
        panel::sign_in, panel::sign_out, panel::jobs, panel::release,
        agent::enrol, agent::heartbeat, agent::park,
        agent::orders, agent::order_step, agent::outcome,
        agent::put_copy, agent::get_copy,
        // Issue 16, accounts.
        users::edit_user),
    components(schemas(User, crate::identity::Role, HeldJob, crate::jobs::JobState, NewUserRequest, ErrorBody, ErrorDetail, users::Me,
        panel::DeviceSignIn, panel::DeviceSession, panel::DeviceRelease, panel::DeviceReleased,
        crate::release::AgentEnrolment, crate::release::AgentCredential, crate::release::AgentHealth,
        crate::release::AgentPrinterHealth, crate::release::AgentAssignment, crate::release::AgentPrinter,
        crate::release::WorkstationJob, crate::release::AgentOrdersRequest, crate::release::AgentOrders,
        crate::release::AgentOrder, crate::release::AgentOutcome, agent::ParkedJob,
        // Issue 16, accounts.
        crate::identity::UserEdit)),
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

/// Every route of the API, and its OpenAPI document with the Swagger UI.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/me", web::get().to(users::me))
        .route("/api/v1/users", web::get().to(users::list_users))
        .route("/api/v1/users", web::post().to(users::create_user))
        // Issue 16, accounts.
        .route("/api/v1/users/{id}", web::patch().to(users::edit_user))
        .route("/api/v1/jobs", web::get().to(users::my_jobs))
        .route("/api/v1/jobs/{id}", web::delete().to(users::delete_job))
        // The printer-panel app at an output device.
        .route(
            "/api/v1/output-device/session",
            web::post().to(panel::sign_in),
        )
        .route(
            "/api/v1/output-device/session",
            web::delete().to(panel::sign_out),
        )
        .route("/api/v1/output-device/jobs", web::get().to(panel::jobs))
        .route(
            "/api/v1/output-device/release",
            web::post().to(panel::release),
        )
        // The on-site agent's control channel.
        .route("/api/v1/agent/enrol", web::post().to(agent::enrol))
        .route("/api/v1/agent/heartbeat", web::post().to(agent::heartbeat))
        .route("/api/v1/agent/jobs", web::post().to(agent::park))
        .route(
            "/api/v1/agent/jobs/{id}/copy",
            web::put().to(agent::put_copy),
        )
        .route(
            "/api/v1/agent/jobs/{id}/copy",
            web::get().to(agent::get_copy),
        )
        .route("/api/v1/agent/orders", web::post().to(agent::orders))
        .route(
            "/api/v1/agent/orders/{id}/outcome",
            web::post().to(agent::outcome),
        )
        .route(
            "/api/v1/agent/orders/{id}/{step}",
            web::post().to(agent::order_step),
        )
        .service(SwaggerUi::new("/api/docs/{_:.*}").url("/api/v1/openapi.json", ApiDoc::openapi()));
}
