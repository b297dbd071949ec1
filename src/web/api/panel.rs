//! Pull release at the device: a JSON API for apps on printers whose own panel or card
//! reader identifies the person (`/api/v1/output-device/…`). The app authenticates as
//! its output device (HTTP Basic, the enrolment's login and secret — the same as for
//! IPP INFRA); the person signs in with a badge, login + PIN, or a passcode and gets a
//! short-lived user session (`X-User-Session`, 90 s idle, 30 min at most). Releasing
//! makes the jobs fetchable by this device's printer only. Sign-in limits (per printer
//! and source address, 429 with Retry-After), audit and "never costlier" are those of
//! the release station.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::error_body::ErrorBody;
use crate::identity::ClientInfo;
use crate::identity::station::{AtPrinter, BadgeOutcome};
use crate::identity::{SessionToken, User};
use crate::jobs::HeldJob;
use crate::release::{DeviceCaller, InfraError, JobChoice, ReleaseVia};
use crate::web::AppState;
use crate::web::auth::{basic_credentials, client_info};
use crate::web::error::{ApiError, Problem};

const SESSION_HEADER: &str = "X-User-Session";
const SESSION_KIND: &str = "station";

/// How the person proves who they are at the device: exactly one of `badge` (with
/// `pin` where `security.badge_requires_pin` is on, or always when the app has it),
/// `login` + `pin`, or `passcode`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeviceSignIn {
    /// The badge number as the card reader read it (sent over TLS; only its keyed
    /// hash is ever stored or compared).
    #[serde(default)]
    pub badge: Option<String>,
    /// Username or e-mail, with `pin`.
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub pin: Option<String>,
    /// The person's 8-digit release passcode.
    #[serde(default)]
    pub passcode: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceSession {
    /// Send as the `X-User-Session` header; ends after 90 s without use.
    pub token: String,
    pub username: String,
    pub display_name: String,
}

/// What to release; without `job_ids`, every held job (oldest first).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeviceRelease {
    #[serde(default)]
    pub job_ids: Option<Vec<i64>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceReleased {
    /// The IPP job ids (release ids) the device fetches next: each is announced by a
    /// job-fetchable event and listed by Get-Jobs which-jobs=fetchable.
    pub job_ids: Vec<i64>,
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError(Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        message,
    ))
}

/// The output device the app runs on (HTTP Basic); user credentials never work here.
async fn device(req: &HttpRequest, state: &AppState) -> Result<DeviceCaller, ApiError> {
    let Some((login, secret)) = basic_credentials(req) else {
        return Err(unauthenticated(
            "Authenticate as the output device (HTTP Basic with its login and secret).",
        ));
    };
    match state
        .services
        .release
        .infra()
        .authenticate(&login, &secret, &client_info(req))
        .await
    {
        Ok(caller) => Ok(caller),
        Err(InfraError::Unauthenticated) => Err(unauthenticated(
            "Wrong or revoked output device credentials.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// The person signed in at this device (`X-User-Session`).
async fn person(req: &HttpRequest, state: &AppState) -> Result<User, ApiError> {
    let token = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthenticated("Sign the person in first (X-User-Session)."))?;
    let principal = state
        .services
        .identity
        .session_of(&SessionToken(token.trim().to_string()), SESSION_KIND)
        .await
        .map_err(|_| unauthenticated("The session ended; sign the person in again."))?;
    Ok(principal.user)
}

/// Sign a person in at the device.
#[utoipa::path(post, path = "/api/v1/output-device/session", request_body = DeviceSignIn,
    responses((status = 200, body = DeviceSession),
        (status = 401, description = "wrong credentials, or `pin_required`: this site wants the PIN with the badge", body = ErrorBody),
        (status = 404, description = "badge not linked to anyone (the person links it once at a release station)", body = ErrorBody),
        (status = 429, description = "too many failed sign-ins at this printer or from this address; see Retry-After", body = ErrorBody)),
    security(("basic" = [])))]
pub async fn sign_in(
    req: HttpRequest,
    client: ClientInfo,
    state: web::Data<AppState>,
    body: web::Json<DeviceSignIn>,
) -> Result<HttpResponse, ApiError> {
    let caller = device(&req, &state).await?;
    let identity = &state.services.identity;
    let at = AtPrinter {
        guid: &caller.printer.guid,
        name: &caller.printer.name,
    };
    let unknown_badge = || {
        ApiError(Problem::new(
            StatusCode::NOT_FOUND,
            "unknown_badge",
            "This badge is not linked to anyone yet: link it once at a release station.",
        ))
    };
    let user = match (&body.badge, &body.login, &body.pin, &body.passcode) {
        (Some(badge), None, None, None) => match identity.badge_login(badge, at, &client).await? {
            BadgeOutcome::Known(user) => user,
            BadgeOutcome::NeedsPin(_) => {
                return Err(ApiError(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "pin_required",
                    "This site asks for the PIN with the badge: send badge and pin together.",
                )));
            }
            BadgeOutcome::Unknown(_) => return Err(unknown_badge()),
        },
        (Some(badge), None, Some(pin), None) => {
            match identity
                .badge_with_pin_login(badge, pin, at, &client)
                .await?
            {
                BadgeOutcome::Known(user) => user,
                _ => return Err(unknown_badge()),
            }
        }
        (None, Some(login), Some(pin), None) => identity.pin_login(login, pin, at, &client).await?,
        (None, None, None, Some(passcode)) => {
            identity.passcode_login(passcode, at, &client).await?
        }
        _ => {
            return Err(ApiError(Problem::bad_request(
                "send exactly one of: badge (with pin where the site asks for it); login and pin; passcode",
            )));
        }
    };
    let token = identity.open_session(&user, SESSION_KIND, &client).await?;
    Ok(HttpResponse::Ok().json(DeviceSession {
        token: token.0,
        username: user.username.clone(),
        display_name: user.display_name().to_string(),
    }))
}

/// Sign the person out (the session ends by itself after 90 s idle).
#[utoipa::path(delete, path = "/api/v1/output-device/session",
    responses((status = 204), (status = 401, body = ErrorBody)), security(("basic" = [])))]
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    device(&req, &state).await?;
    if let Some(token) = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        state
            .services
            .identity
            .end_session(&SessionToken(token.trim().to_string()))
            .await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in person's held jobs, newest first.
#[utoipa::path(get, path = "/api/v1/output-device/jobs",
    responses((status = 200, body = [HeldJob]), (status = 401, body = ErrorBody)), security(("basic" = [])))]
pub async fn jobs(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    device(&req, &state).await?;
    let user = person(&req, &state).await?;
    Ok(HttpResponse::Ok().json(state.services.jobs.held_jobs_of(&user).await?))
}

/// Release some or all of the person's held jobs to this device's printer.
#[utoipa::path(post, path = "/api/v1/output-device/release", request_body = DeviceRelease,
    responses((status = 200, body = DeviceReleased), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("basic" = [])))]
pub async fn release(
    req: HttpRequest,
    client: ClientInfo,
    state: web::Data<AppState>,
    body: web::Json<DeviceRelease>,
) -> Result<HttpResponse, ApiError> {
    let caller = device(&req, &state).await?;
    let user = person(&req, &state).await?;
    let release = &state.services.release;
    let guid = &caller.printer.guid;
    let ids = match &body.job_ids {
        None => {
            release
                .release_all(&user, guid, ReleaseVia::Device, &client)
                .await?
        }
        Some(ids) => {
            let choices: Vec<JobChoice> = ids
                .iter()
                .map(|id| JobChoice {
                    job_id: *id,
                    ..Default::default()
                })
                .collect();
            release
                .release(&user, guid, &choices, ReleaseVia::Device, &client)
                .await?
        }
    };
    Ok(HttpResponse::Ok().json(DeviceReleased { job_ids: ids }))
}
