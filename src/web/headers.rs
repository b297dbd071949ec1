//! One middleware for what every response carries (security headers) and what every
//! request leaves behind (a log line without query string or body, and metrics).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// Swagger UI needs inline styles; it has no forms and reads only our spec.
const CSP_DOCS: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

pub async fn security_and_telemetry(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    let csp = if path.starts_with("/api/docs") {
        CSP_DOCS
    } else {
        CSP
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A page may ask for less (the password reset pages send only their origin).
    if !headers.contains_key(header::REFERRER_POLICY) {
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    headers.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let status = response.status().as_u16();
    let route = route_label(&path);
    metrics::counter!("printpark_http_requests_total", "route" => route, "status" => status.to_string()).increment(1);
    tracing::info!(%method, %path, status, elapsed_ms = started.elapsed().as_millis() as u64, "request");
    Ok(response)
}

/// A low-cardinality label for metrics: the first path segment.
fn route_label(path: &str) -> &'static str {
    match path.split('/').nth(1).unwrap_or("") {
        "" => "/",
        "api" => "/api",
        "admin" => "/admin",
        "portal" => "/portal",
        "login" | "logout" | "forgot-password" | "reset-password" => "/login",
        "setup" => "/setup",
        "static" => "/static",
        "healthz" | "readyz" | "metrics" => "/ops",
        _ => "other",
    }
}
