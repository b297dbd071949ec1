//! Request-side identity: session cookies, bearer tokens, client info (the CSRF
//! checks of forms are extractors in `extract.rs`).
//! The decisions are `identity`'s; this file only reads and writes HTTP.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};

use super::AppState;
use super::error::{ApiError, PageError, Problem};
use crate::identity::{ClientInfo, CsrfBinding, IdentityError, Principal, SessionToken};

// `__Host-`: browsers take these only over HTTPS, for path `/`, from this exact host,
// so a sibling subdomain cannot plant a session or a pre-session of its choosing.
pub const SESSION_COOKIE: &str = "__Host-pp_session";
pub const PRESESSION_COOKIE: &str = "__Host-pp_pre";

pub use super::page::CHANGE_PASSWORD_PATH;
/// What a signed-in person may reach before replacing a reset password.
const OPEN_BEFORE_CHANGE: [&str; 2] = [CHANGE_PASSWORD_PATH, "/logout"];

pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        addr: req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect())
            .unwrap_or_default(),
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, Problem> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Problem::bad_request("server state missing"))
}

pub fn session_cookie(token: &SessionToken) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.0.clone())
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish()
}

pub fn expired_session_cookie() -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .secure(true)
        .http_only(true)
        .max_age(CookieDuration::ZERO)
        .finish()
}

/// The random cookie that binds CSRF tokens of forms shown before sign-in.
pub fn presession_cookie(value: &str) -> Cookie<'static> {
    Cookie::build(PRESESSION_COOKIE, value.to_owned())
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// A signed-in browser user (session cookie), for pages.
pub struct SignedIn {
    pub principal: Principal,
    pub token: SessionToken,
    /// The path asked for: the navigation marks where the person is (issue 20).
    pub path: String,
}

/// A signed-in admin, for admin pages.
pub struct Admin(pub SignedIn);

/// A caller of the JSON API: session cookie or `Authorization: Bearer <app password>`.
pub struct ApiCaller {
    pub principal: Principal,
    pub session: Option<SessionToken>,
}

async fn signed_in(req: HttpRequest) -> Result<SignedIn, Problem> {
    let state = state(&req)?;
    let cookie = req
        .cookie(SESSION_COOKIE)
        .ok_or(IdentityError::Unauthenticated)?;
    let token = SessionToken(cookie.value().to_owned());
    let principal = state
        .services
        .identity
        .session_user(&token)
        .await
        .map_err(|e| match e {
            IdentityError::Disabled | IdentityError::NotFound => IdentityError::Unauthenticated,
            other => other,
        })?;
    // A reset password opens the page that replaces it, and nothing else (pages
    // redirect there, the API answers 403 `password_change_required`).
    if principal.user.must_change_password && !OPEN_BEFORE_CHANGE.contains(&req.path()) {
        return Err(IdentityError::PasswordChangeRequired.into());
    }
    Ok(SignedIn {
        principal,
        token,
        path: req.path().to_owned(),
    })
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { signed_in(req).await.map_err(PageError) })
    }
}

impl FromRequest for Admin {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let who = signed_in(req).await.map_err(PageError)?;
            if !who.principal.user.is_admin() {
                return Err(PageError(IdentityError::Forbidden.into()));
            }
            Ok(Admin(who))
        })
    }
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req).map_err(ApiError)?;
            let bearer = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer ").map(str::trim).map(str::to_owned));
            if let Some(token) = bearer {
                let principal = state
                    .services
                    .identity
                    .authenticate_bearer(&token, &client_info(&req))
                    .await?;
                return Ok(ApiCaller {
                    principal,
                    session: None,
                });
            }
            let who = signed_in(req.clone()).await.map_err(ApiError)?;
            // Cookie-authenticated writes must carry the CSRF token in a header.
            if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
                let sent = req
                    .headers()
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !state
                    .services
                    .identity
                    .csrf_valid(CsrfBinding::Session(&who.token.0), sent)
                {
                    return Err(ApiError(Problem::csrf()));
                }
            }
            Ok(ApiCaller {
                principal: who.principal,
                session: Some(who.token),
            })
        })
    }
}

/// The user name and password of an `Authorization: Basic` header, if any.
pub fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    use base64::Engine;
    let encoded = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (login, secret) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(l, s)| (l.to_owned(), s.to_owned()))?;
    Some((login, secret))
}
