//! Single sign-on pages: `GET /sso/{provider}/start` sends the browser to the
//! provider, `GET /sso/{provider}/callback` is where it comes back (a session cookie
//! like the password sign-in's, or a refusal page saying why), and the "Sign in with
//! …" buttons the sign-in and phone pages show.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::public_base;
use super::release_points::phone::{DEVICE_COOKIE, DEVICE_PATH};
use super::release_points::scoped_cookie;
use super::{Page, redirect, render};
use crate::identity::ClientInfo;
use crate::identity::oidc::flow::{CallbackParams, PENDING_SECS, local_path};
use crate::identity::oidc::{SignInPurpose, SsoSignIn};
use crate::identity::station_sessions::DEVICE_SESSION_SECS;
use crate::web::AppState;
use crate::web::auth::session_cookie;
use crate::web::error::{PageError, Problem};

/// Binds a sign-in to the browser that started it (`__Host-`: this host, HTTPS, `/`).
/// `SameSite=Lax`: the provider's redirect back is a cross-site top-level navigation.
const BROWSER_COOKIE: &str = "__Host-pp_sso";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sso/{provider}/start", web::get().to(start))
        .route("/sso/{provider}/callback", web::get().to(callback));
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
    /// The printer guid of a phone page that signs in.
    phone: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// This browser's binding value, made if it has none yet.
fn browser_binding(req: &HttpRequest) -> (String, bool) {
    match req.cookie(BROWSER_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_owned(), false),
        _ => (crate::identity::secrets::new_token(), true),
    }
}

fn browser_cookie(value: &str) -> Cookie<'static> {
    Cookie::build(BROWSER_COOKIE, value.to_owned())
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(PENDING_SECS))
        .finish()
}

/// `GET /sso/{provider}/start?next=/portal`: to the provider's sign-in page.
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    let (purpose, next) = match query.phone.as_deref() {
        Some(guid) => {
            let printer = state.services.printers.by_guid(guid).await?;
            let here = format!("/r/{}", printer.guid);
            (SignInPurpose::Phone { guid: printer.guid }, Some(here))
        }
        None => (
            SignInPurpose::Browser,
            query.next.as_deref().and_then(local_path),
        ),
    };
    let redirect_uri = format!(
        "{}/sso/{}/callback",
        public_base(&req, &state),
        provider.as_str()
    );
    let (browser, _) = browser_binding(&req);
    let started = state
        .services
        .sso
        .start(&provider, next, purpose, &redirect_uri, &browser)
        .await
        .map_err(|e| PageError(Problem::from(e)))?;
    let mut response = redirect(&started.authorize_url);
    // Renewed on every start so it outlives the newest pending sign-in.
    response.add_cookie(&browser_cookie(&browser)).ok();
    Ok(response)
}

/// `GET /sso/{provider}/callback?code&state`: the session, or a refusal page.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    query: web::Query<CallbackQuery>,
    client: ClientInfo,
) -> Result<HttpResponse, PageError> {
    let params = CallbackParams {
        code: query.code.as_deref(),
        state: query.state.as_deref(),
        error: query.error.as_deref(),
        error_description: query.error_description.as_deref(),
    };
    let browser = req.cookie(BROWSER_COOKIE).map(|c| c.value().to_owned());
    let signed_in = state
        .services
        .sso
        .callback(&provider, &params, browser.as_deref(), &client)
        .await
        .map_err(|e| PageError(Problem::from(e)))?;
    signed_in_response(signed_in)
}

#[derive(Template)]
#[template(path = "sso_phone.html")]
struct PhoneSignedIn {
    page: Page,
    href: String,
}

fn signed_in_response(done: SsoSignIn) -> Result<HttpResponse, PageError> {
    match done.purpose {
        SignInPurpose::Browser => {
            let fallback = if done.user.is_admin() {
                "/admin"
            } else {
                "/portal"
            };
            let mut response = redirect(done.next.as_deref().unwrap_or(fallback));
            response.add_cookie(&session_cookie(&done.token)).ok();
            Ok(response)
        }
        SignInPurpose::Phone { guid } => {
            // The phone's cookie is SameSite=Strict: a redirect chain that began at the
            // provider would not carry it, so this page (same-site) moves on itself.
            let href = format!("/r/{guid}");
            let mut response = render(&PhoneSignedIn {
                page: Page::bare("Signed in"),
                href,
            })?;
            response
                .add_cookie(&scoped_cookie(
                    DEVICE_COOKIE,
                    &done.token.0,
                    DEVICE_PATH.into(),
                    Some(DEVICE_SESSION_SECS),
                ))
                .ok();
            Ok(response)
        }
    }
}

#[derive(Template)]
#[template(path = "sso_logout.html")]
struct ProviderSignOut {
    page: Page,
    href: String,
    provider: String,
}

/// After the local session ended: the page that takes the browser on to the
/// provider's end-session address. A page, not a redirect: the sign-out is a form,
/// and the CSP's `form-action 'self'` stops a form's redirect to another site.
pub fn provider_sign_out_page(href: String, provider: String) -> Result<HttpResponse, PageError> {
    render(&ProviderSignOut {
        page: Page::bare("Signing out"),
        href,
        provider,
    })
}
