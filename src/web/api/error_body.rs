//! The error envelope of the JSON API, as the OpenAPI document describes it (the
//! response itself is written by `web::error::ApiError`).

use serde::Serialize;

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
