//! Operations endpoints: liveness, readiness (database and blob store answer), metrics.

use actix_web::{HttpResponse, web};

use super::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
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

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
