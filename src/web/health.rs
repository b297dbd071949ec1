//! Operations endpoints: liveness, readiness (database and blob store answer), metrics.
//! `/healthz` always answers (container health checks); with `operations.token` set,
//! `/readyz` and `/metrics` (which show live sign-in failure counts) answer only a
//! caller that sends it as a bearer token.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::{ApiError, Problem};

/// A caller allowed to read `/readyz` and `/metrics`: anyone when no operations token
/// is set, else whoever sends `Authorization: Bearer <token>`.
pub struct OperationsCaller;

fn operations_caller(req: &HttpRequest) -> Result<OperationsCaller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError(Problem::bad_request("server state missing")))?;
    let Some(expected) = &state.services.settings.operations.token else {
        return Ok(OperationsCaller);
    };
    let sent = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    // Digests first, so the comparison takes the same time whatever the lengths.
    let same = Sha256::digest(sent.as_bytes())
        .as_slice()
        .ct_eq(Sha256::digest(expected.expose().as_bytes()).as_slice());
    if !sent.is_empty() && bool::from(same) {
        Ok(OperationsCaller)
    } else {
        Err(ApiError(Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "this endpoint needs the operations token (Authorization: Bearer …)",
        )))
    }
}

impl FromRequest for OperationsCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(operations_caller(req))
    }
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

pub async fn readyz(_: OperationsCaller, state: web::Data<AppState>) -> HttpResponse {
    let db = state.services.db.ping().await;
    let store = state.services.vault.store().check().await;
    match (db, store) {
        (Ok(()), Ok(())) => HttpResponse::Ok()
            .json(serde_json::json!({"status": "ready", "database": "ok", "store": "ok"})),
        (db, store) => {
            tracing::warn!(database = ?db.as_ref().err(), store = ?store.as_ref().err(), "not ready");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({
                "status": "not ready",
                "database": if db.is_ok() { "ok" } else { "unavailable" },
                "store": if store.is_ok() { "ok" } else { "unavailable" },
            }))
        }
    }
}

pub async fn metrics(_: OperationsCaller, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
