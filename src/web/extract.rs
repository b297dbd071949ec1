//! Extractors for what form and API handlers take from every request: a form whose
//! CSRF token has been checked (bound to the browser session, or to the pre-session
//! cookie before sign-in), and the caller's address and user agent for the audit log.
//! A handler that takes one of these cannot forget the check; the checks themselves
//! are the ones `auth` made by hand before (same-site, then the bound token).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::AppState;
use super::auth::{PRESESSION_COOKIE, SESSION_COOKIE, client_info};
use super::error::{PageError, Problem};
use crate::identity::{ClientInfo, CsrfBinding};

/// A form that carries the CSRF token of the page it was posted from.
pub trait CsrfToken {
    fn csrf(&self) -> &str;
}

/// Implements [`CsrfToken`] for form structs whose token is the `csrf` field.
macro_rules! csrf_field {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::web::extract::CsrfToken for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use csrf_field;

/// A post with nothing in it but the form token (buttons: delete, revoke, sign out).
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

csrf_field!(CsrfOnly);

/// A form posted from a signed-in page by `W` ([`super::auth::SignedIn`] or
/// [`super::auth::Admin`]). In the order the handlers checked by hand: who is asking
/// first (a stranger is sent to sign in, not told about tokens), then the body, then
/// the token bound to this browser's session.
pub struct SignedForm<W, T> {
    pub who: W,
    pub form: T,
}

/// An admin's form.
pub type AdminForm<T> = SignedForm<super::auth::Admin, T>;
/// A signed-in user's form (portal, account, sign-out).
pub type UserForm<T> = SignedForm<super::auth::SignedIn, T>;

impl<W, T> FromRequest for SignedForm<W, T>
where
    W: FromRequest<Error = PageError> + 'static,
    T: DeserializeOwned + CsrfToken + 'static,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let who = W::from_request(req, payload);
        // Takes the body now; it is read only once `who` is known.
        let form = web::Form::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let who = who.await?;
            let form = form.await?.into_inner();
            check_session_token(&req, form.csrf())?;
            Ok(SignedForm { who, form })
        })
    }
}

/// A form of a page shown before sign-in (sign-in, first run, station, phone): the
/// token must be the one bound to the pre-session cookie.
pub struct AnonymousForm<T>(pub T);

impl<T> FromRequest for AnonymousForm<T>
where
    T: DeserializeOwned + CsrfToken + 'static,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = web::Form::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let form = form.await?.into_inner();
            check_same_site(&req)?;
            let valid = match (state(&req), req.cookie(PRESESSION_COOKIE)) {
                (Some(state), Some(pre)) => state
                    .services
                    .identity
                    .csrf_valid(CsrfBinding::PreSession(pre.value()), form.csrf()),
                _ => false,
            };
            if !valid {
                return Err(PageError(Problem::csrf()).into());
            }
            Ok(AnonymousForm(form))
        })
    }
}

/// The caller's address and user agent, for the audit log and the sign-in limits.
impl FromRequest for ClientInfo {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(client_info(req)))
    }
}

fn state(req: &HttpRequest) -> Option<&web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>()
}

/// Checks a token sent from a signed-in page: it must be the one bound to this
/// browser's session. A token bound to the pre-sign-in cookie is refused here,
/// whoever planted that cookie. Called by [`SignedForm`], and by the portal's upload,
/// whose token arrives as one part of a multipart stream.
pub fn check_session_token(req: &HttpRequest, submitted: &str) -> Result<(), PageError> {
    check_same_site(req)?;
    let valid = match (state(req), req.cookie(SESSION_COOKIE)) {
        (Some(state), Some(session)) => state
            .services
            .identity
            .csrf_valid(CsrfBinding::Session(session.value()), submitted),
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(PageError(Problem::csrf()))
    }
}

/// Refuses a post that a browser says came from another site, or whose `Origin`
/// names another host.
fn check_same_site(req: &HttpRequest) -> Result<(), PageError> {
    if let Some(site) = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        && site == "cross-site"
    {
        return Err(PageError(Problem::csrf()));
    }
    if let (Some(origin), Some(host)) = (
        req.headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok()),
        req.headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok()),
    ) {
        let origin_host = url::Url::parse(origin).ok().map(|u| match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
            None => u.host_str().unwrap_or_default().to_owned(),
        });
        if origin_host.as_deref() != Some(host) {
            return Err(PageError(Problem::csrf()));
        }
    }
    Ok(())
}
