//! The user's own API: who am I, my held jobs; and user administration for admins.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::error_body::ErrorBody;
use crate::identity::people::require_admin;
use crate::identity::{ClientInfo, NewUserRequest, User, UserEdit};
use crate::jobs::HeldJob;
use crate::web::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::ApiError;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user: User,
    /// For cookie-authenticated clients: the token to send as `X-CSRF-Token` on writes.
    pub csrf_token: Option<String>,
}

/// Who am I.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = Me), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn me(state: web::Data<AppState>, caller: ApiCaller) -> Result<HttpResponse, ApiError> {
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
pub async fn list_users(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller.principal.user)?;
    Ok(HttpResponse::Ok().json(state.services.identity.list_users().await?))
}

/// Create a user (admins only).
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUserRequest, responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: ApiCaller,
    client: ClientInfo,
    body: web::Json<NewUserRequest>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller.principal.user)?;
    let user = state
        .services
        .identity
        .create_user(Some(&caller.principal.user), &body, &client)
        .await?;
    Ok(HttpResponse::Created().json(user))
}

/// My held jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", responses((status = 200, body = [HeldJob]), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn my_jobs(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> Result<HttpResponse, ApiError> {
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
pub async fn delete_job(
    state: web::Data<AppState>,
    caller: ApiCaller,
    client: ClientInfo,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state
        .services
        .jobs
        .delete(&caller.principal.user, path.into_inner(), &client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Edit a person (admins only). Absent fields stay as they are; `hold_hours: null`
/// means the queue default. Card numbers are write-only (stored as keyed hashes). For
/// directory people the fields the directory supplies are refused (422). The last
/// enabled admin cannot be demoted (422). Audited with the names of the changed fields.
#[utoipa::path(patch, path = "/api/v1/users/{id}", params(("id" = i64, Path, description = "user id")), request_body = UserEdit, responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn edit_user(
    state: web::Data<AppState>,
    caller: ApiCaller,
    client: ClientInfo,
    path: web::Path<i64>,
    body: web::Json<UserEdit>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&caller.principal.user)?;
    let user = state
        .services
        .identity
        .edit_user(&caller.principal.user, path.into_inner(), &body, &client)
        .await?;
    Ok(HttpResponse::Ok().json(user))
}
