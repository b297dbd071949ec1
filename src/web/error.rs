//! The one place where domain errors become HTTP answers: a rendered page for the UI,
//! JSON with a stable machine-readable `code` for the API.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::devices::DeviceError;
use crate::identity::IdentityError;
use crate::jobs::JobError;
use crate::release::ReleaseError;
use crate::vault::VaultError;

/// Status, stable code and a message safe to show to the person who asked.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<i64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found.")
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "This form has expired or did not come from this site. Reload the page and try again.",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// Issue 16: a sign-in page shows this problem on itself (the person can act on
    /// it) rather than on the error page: anything of theirs, and a directory that did
    /// not answer (try again, or use a local account).
    pub fn shown_in_place(&self) -> bool {
        !self.status.is_server_error() || self.code == "directory_unavailable"
    }

    fn internal(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "{what}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on the server. The error was logged.",
        )
    }
}

impl From<IdentityError> for Problem {
    fn from(error: IdentityError) -> Self {
        use IdentityError as E;
        match error {
            E::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Wrong username, e-mail or password.",
            ),
            E::Locked { retry_after_secs } => Problem {
                retry_after: Some(retry_after_secs),
                ..Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "locked",
                    format!(
                        "Too many failed attempts. Try again in {}.",
                        wait_text(retry_after_secs)
                    ),
                )
            },
            E::Disabled => Problem::new(
                StatusCode::FORBIDDEN,
                "account_disabled",
                "This account is disabled. Ask an administrator.",
            ),
            E::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign in first.",
            ),
            E::Forbidden => Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "You are not allowed to do that.",
            ),
            E::NotFound => Problem::not_found(),
            E::Conflict { field } => Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("That {field} is already taken."),
            ),
            E::Invalid { field, reason } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                sentence(field, &reason),
            ),
            // Issue 16, e-mail: a password reset link that cannot be used (any more).
            E::ResetLinkExpired => Problem::new(
                StatusCode::GONE,
                "reset_link_expired",
                "This link has expired or was used; ask for a new one.",
            ),
            // Issue 16, accounts.
            E::PasswordChangeRequired => Problem::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "An administrator reset your password: choose a new one in the portal (My account → Password) first. App passwords keep working.",
            ),
            // Issue 16: a directory person's password could not be checked.
            E::DirectoryUnavailable(reason) => {
                tracing::warn!(%reason, "directory sign-in: the directory did not answer");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "directory_unavailable",
                    "The directory did not answer; try again or use a local account.",
                )
            }
            other => Problem::internal("identity error", &other),
        }
    }
}

/// Issue 16, e-mail: what the relay or the mail settings refused is shown as it is
/// (it carries no secret); the storage's failures stay this server's.
impl From<crate::mail::MailError> for Problem {
    fn from(error: crate::mail::MailError) -> Self {
        use crate::mail::MailError as M;
        match error {
            M::Db(_) | M::Vault(_) => Problem::internal("mail error", &error),
            M::Invalid(_) | M::ReadOnly => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                error.to_string(),
            ),
            M::NotConfigured => Problem::new(
                StatusCode::CONFLICT,
                "mail_not_configured",
                error.to_string(),
            ),
            other => Problem::new(StatusCode::BAD_GATEWAY, "mail_failed", other.to_string()),
        }
    }
}

// Issue 16: the directory (LDAP / Active Directory) on the admin pages. What failed
// with the directory is the admin's to read (it names the step: TCP, TLS, bind, search).
impl From<crate::identity::ldap::LdapError> for Problem {
    fn from(error: crate::identity::ldap::LdapError) -> Self {
        use crate::identity::ldap::LdapError as E;
        match error {
            E::Identity(e) => e.into(),
            E::Db(e) => e.into(),
            E::Vault(e) => e.into(),
            E::Busy => Problem::new(StatusCode::CONFLICT, "busy", error.to_string()),
            E::NotConfigured | E::Invalid(_) => Problem::bad_request(error.to_string()),
            other => Problem::new(
                StatusCode::BAD_GATEWAY,
                "directory_failed",
                other.to_string(),
            ),
        }
    }
}

/// A refusal about one field as a sentence (issue 20: not "user: you cannot disable
/// yourself"). A reason written as a sentence (capital first) stands alone; "is …"
/// follows the field's name ("Setup code is not …"); any other reason follows it
/// after a colon ("Password: use at least 10 characters.").
pub fn sentence(field: &str, reason: &str) -> String {
    let reason = reason.trim().trim_end_matches('.');
    let mut text = if reason.starts_with(|c: char| c.is_uppercase()) {
        reason.to_owned()
    } else if ["is ", "are ", "must ", "cannot ", "may "]
        .iter()
        .any(|verb| reason.starts_with(verb))
    {
        format!("{} {reason}", capitalised(field))
    } else {
        format!("{}: {reason}", capitalised(field))
    };
    text.push('.');
    text
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A refused sign-in at a release point, saying what was wrong in the words of the
/// form the person used (issue 20: a wrong PIN is not a "wrong password").
pub fn wrong_at_station(problem: Problem, what: &str) -> Problem {
    if problem.code == "invalid_credentials" {
        Problem {
            message: what.to_owned(),
            ..problem
        }
    } else {
        problem
    }
}

/// A wait as a person reads it: seconds under two minutes, else minutes.
fn wait_text(secs: i64) -> String {
    if secs < 120 {
        format!("{secs} seconds")
    } else {
        format!("{} minutes", (secs + 59) / 60)
    }
}

impl From<JobError> for Problem {
    fn from(error: JobError) -> Self {
        match error {
            JobError::NotFound => Problem::not_found(),
            JobError::TooLarge(_) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                error.to_string(),
            ),
            JobError::TooManyHeld(_) => {
                Problem::new(StatusCode::CONFLICT, "too_many_held", error.to_string())
            }
            JobError::TooManyPending(_) => {
                Problem::new(StatusCode::CONFLICT, "too_many_jobs", error.to_string())
            }
            JobError::OverQuota(_) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "over_quota",
                error.to_string(),
            ),
            JobError::TooManyDocuments(_) => Problem::new(
                StatusCode::CONFLICT,
                "too_many_documents",
                error.to_string(),
            ),
            JobError::Interrupted(_) => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "interrupted",
                error.to_string(),
            ),
            JobError::FormatNotAccepted(_) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "format_not_accepted",
                error.to_string(),
            ),
            // Issue 20: refused with the limit, never quietly clamped.
            JobError::Copies(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "copies_out_of_range",
                error.to_string(),
            ),
            JobError::Empty => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty_document",
                error.to_string(),
            ),
            JobError::Compression(_) | JobError::NotPossible(_) => {
                Problem::bad_request(error.to_string())
            }
            JobError::Identity(e) => e.into(),
            JobError::Vault(VaultError::NotFound) => Problem::new(
                StatusCode::GONE,
                "document_gone",
                "The document is no longer stored.",
            ),
            other => Problem::internal("job error", &other),
        }
    }
}

impl From<ReleaseError> for Problem {
    fn from(error: ReleaseError) -> Self {
        match error {
            ReleaseError::PrinterNotFound | ReleaseError::NotFound => Problem::not_found(),
            ReleaseError::PrinterDisabled | ReleaseError::PrinterNotReady(_) => {
                Problem::new(StatusCode::CONFLICT, "printer_not_ready", error.to_string())
            }
            ReleaseError::NothingToRelease => Problem::new(
                StatusCode::CONFLICT,
                "nothing_to_release",
                error.to_string(),
            ),
            ReleaseError::NotAllowed(_) => Problem::bad_request(error.to_string()),
            ReleaseError::Job(e) => e.into(),
            ReleaseError::Identity(e) => e.into(),
            other => Problem::internal("release error", &other),
        }
    }
}

impl From<crate::release::InfraError> for Problem {
    fn from(error: crate::release::InfraError) -> Self {
        use crate::release::InfraError;
        match error {
            InfraError::Release(e) => e.into(),
            InfraError::NotFound(_) => Problem::not_found(),
            InfraError::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "wrong, unknown or revoked credentials",
            ),
            InfraError::AwaitingApproval => Problem::new(
                StatusCode::FORBIDDEN,
                "awaiting_approval",
                error.to_string(),
            ),
            other => Problem::bad_request(other.to_string()),
        }
    }
}

impl From<DeviceError> for Problem {
    fn from(error: DeviceError) -> Self {
        match error {
            DeviceError::NotFound => Problem::not_found(),
            DeviceError::Invalid(_) => Problem::bad_request(error.to_string()),
            DeviceError::Busy => Problem::new(StatusCode::CONFLICT, "busy", error.to_string()),
            DeviceError::Identity(e) => e.into(),
            DeviceError::Release(e) => e.into(),
            other => Problem::internal("device error", &other),
        }
    }
}

impl From<VaultError> for Problem {
    fn from(error: VaultError) -> Self {
        Problem::internal("vault error", &error)
    }
}

impl From<crate::db::DbError> for Problem {
    fn from(error: crate::db::DbError) -> Self {
        Problem::internal("database error", &error)
    }
}

/// An error answered with an HTML page.
#[derive(Debug)]
pub struct PageError(pub Problem);

/// An error answered with JSON: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl<T: Into<Problem>> From<T> for PageError {
    fn from(value: T) -> Self {
        PageError(value.into())
    }
}

impl<T: Into<Problem>> From<T> for ApiError {
    fn from(value: T) -> Self {
        ApiError(value.into())
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: super::page::Page,
    status: u16,
    message: &'a str,
}

/// A sign-in refused in place (a station's or phone's own page shown again with the
/// error): a lock-out keeps its 429 and `Retry-After`, anything else stays a page.
pub fn refused_in_place(mut response: HttpResponse, problem: &Problem) -> HttpResponse {
    if problem.status == StatusCode::TOO_MANY_REQUESTS {
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return with_retry_after(response, problem);
    }
    // Issue 16: the directory did not answer; the page says so with its 503.
    if problem.code == "directory_unavailable" {
        *response.status_mut() = problem.status;
    }
    response
}

fn with_retry_after(mut response: HttpResponse, problem: &Problem) -> HttpResponse {
    if let Some(secs) = problem.retry_after
        && let Ok(value) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.0.status == StatusCode::UNAUTHORIZED && self.0.code == "unauthenticated" {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish();
        }
        // Issue 16, accounts: every page leads to the one that replaces the password.
        if self.0.code == "password_change_required" {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, super::page::CHANGE_PASSWORD_PATH))
                .finish();
        }
        let page = ErrorPage {
            page: super::page::Page::bare("Error"),
            status: self.0.status.as_u16(),
            message: &self.0.message,
        };
        let body = page.render().unwrap_or_else(|_| self.0.message.clone());
        with_retry_after(
            HttpResponse::build(self.0.status)
                .content_type("text/html; charset=utf-8")
                .body(body),
            &self.0,
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.0.status);
        if self.0.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"PrintPark\""));
        }
        let body =
            serde_json::json!({ "error": { "code": self.0.code, "message": self.0.message } });
        with_retry_after(response.json(body), &self.0)
    }
}

// Single sign-on (issue 16, oidc).
impl From<crate::identity::oidc::OidcError> for Problem {
    fn from(error: crate::identity::oidc::OidcError) -> Self {
        use crate::identity::oidc::OidcError as E;
        match error {
            E::UnknownProvider(name) => Problem::new(
                StatusCode::NOT_FOUND,
                "sso_unknown_provider",
                format!("No single sign-on provider is named {name}."),
            ),
            E::Provider(reason) => {
                tracing::warn!(%reason, "single sign-on provider unavailable");
                Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "sso_provider_unavailable",
                    "The sign-in provider cannot be reached or answered wrongly. Try again later, or sign in with a password.",
                )
            }
            E::Refused(refusal) => Problem::new(
                if refusal.is_protocol() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::FORBIDDEN
                },
                "sso_refused",
                format!("Single sign-on refused: {}.", refusal.reason()),
            ),
            E::Invalid { field, reason } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                sentence(field, &reason),
            ),
            E::ReadOnly => Problem::new(
                StatusCode::CONFLICT,
                "read_only",
                "This provider is set in the settings file; change it there.",
            ),
            E::Identity(e) => e.into(),
            E::Vault(e) => Problem::internal("single sign-on vault error", &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_refusals_read_as_sentences() {
        assert_eq!(
            sentence("user", "You cannot disable yourself"),
            "You cannot disable yourself."
        );
        assert_eq!(
            sentence("password", "use at least 10 characters"),
            "Password: use at least 10 characters."
        );
        assert_eq!(
            sentence("setup code", "is not the one this server printed."),
            "Setup code is not the one this server printed."
        );
        assert_eq!(
            sentence("issuer", "must be the provider's https:// issuer URL"),
            "Issuer must be the provider's https:// issuer URL."
        );
    }
}
