//! "Set up printing" (issue 20, `/portal/setup`): one page that gives a person what
//! their computer or phone needs to print to the secure queue — the queue's address
//! on this server, their user name, an app password made for the device (shown once,
//! after a redirect) — and the steps for Windows, macOS, iOS/iPadOS, Android, Linux
//! (CUPS) and ChromeOS; with the Apple configuration profile and the server's
//! certificate to download where a client must be told to trust it.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine;
use serde::Deserialize;

use crate::identity::ClientInfo;
use crate::web::AppState;
use crate::web::auth::SignedIn;
use crate::web::error::{PageError, Problem, refused_in_place};
use crate::web::extract::{SignedForm, UserForm, csrf_field};
use crate::web::views::{Page, redirect, render};

mod profile;

/// Carries a just-made app password, sealed, from the POST to the GET that shows it.
const NEW_PASSWORD_COOKIE: &str = "__Host-pp_new_app_password";
/// The secure queue's path (the route in `web/ipp/mod.rs`).
const QUEUE_PATH: &str = "/ipp/print";

/// Where printing clients reach the secure queue: host and port of this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueAddress {
    /// A name or address as it goes in a URL (IPv6 in brackets).
    pub host: String,
    pub port: u16,
}

impl QueueAddress {
    /// `host:port`.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// `ipps://host:port/ipp/print`.
    pub fn ipps(&self) -> String {
        format!("ipps://{}{QUEUE_PATH}", self.authority())
    }

    /// The same queue as Windows names it: `https://host:port/ipp/print`.
    pub fn https(&self) -> String {
        format!("https://{}{QUEUE_PATH}", self.authority())
    }

    /// The host without IPv6 brackets (certificate file names, the Apple profile).
    pub fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    /// The host and port of a base URL such as `https://print.example.org:8443`
    /// (443 when it names none).
    pub fn from_base(base: &str) -> Option<Self> {
        let (scheme, rest) = base.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        // A user name in a base URL is nobody's business here.
        let authority = authority.rsplit('@').next()?;
        let default = if scheme.eq_ignore_ascii_case("http") {
            80
        } else {
            443
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (inside, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => default,
                None => return None,
            };
            (format!("[{inside}]"), port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), port.parse().ok()?),
                None => (authority.to_owned(), default),
            }
        };
        (!host.is_empty()).then_some(Self {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// The one place this page learns the server's public address. Issue 20: the
/// "address" helper makes one function for it; switch here when it lands.
fn queue_address(req: &HttpRequest, state: &AppState) -> QueueAddress {
    let base = crate::web::views::public_base(req, state);
    QueueAddress::from_base(&base).unwrap_or_else(|| QueueAddress {
        host: "localhost".into(),
        port: state
            .services
            .settings
            .server
            .listen
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(8443),
    })
}

/// A user name as it goes before `@` in a URL (e-mail-like names have one already).
fn userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The server's certificate (the first of its file) as DER, and whether it is
/// PrintPark's own self-signed one (clients must then be told to trust it).
fn server_certificate(state: &AppState) -> Result<(Vec<u8>, bool), Problem> {
    let settings = &state.services.settings;
    let (path, _) = crate::tls::certificate_paths(settings);
    let der = crate::tls::load_first_certificate(&path).map_err(|e| {
        Problem::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "certificate",
            e.to_string(),
        )
    })?;
    Ok((der.as_ref().to_vec(), settings.server.tls_cert.is_none()))
}

#[derive(Template)]
#[template(path = "portal/setup.html")]
struct SetupPage {
    page: Page,
    setup_css: String,
    username: String,
    queue_name: String,
    address: QueueAddress,
    ipps: String,
    https: String,
    /// The device URI for CUPS, with the new app password when one was just made.
    cups_uri: String,
    /// A just-made app password (device name, secret), shown this once.
    new_password: Option<(String, String)>,
    self_signed: bool,
    fingerprint: String,
    /// Names of the person's app passwords still in use.
    devices: Vec<String>,
}

async fn show(
    req: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    page: Page,
    new_password: Option<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let address = queue_address(req, state);
    let user = &who.principal.user;
    let secret = new_password
        .as_ref()
        .map(|(_, s)| s.as_str())
        .unwrap_or("APP-PASSWORD");
    let cups_uri = format!(
        "ipps://{}:{secret}@{}{QUEUE_PATH}",
        userinfo(&user.username),
        address.authority()
    );
    let (der, self_signed) = server_certificate(state)?;
    let devices = state
        .services
        .identity
        .app_passwords(user)
        .await?
        .into_iter()
        .filter(|r| r.revoked_at.is_none())
        .map(|r| r.label)
        .collect();
    render(&SetupPage {
        page,
        setup_css: crate::web::assets::url("setup.css"),
        username: user.username.clone(),
        queue_name: state.services.settings.queue.name.clone(),
        ipps: address.ipps(),
        https: address.https(),
        address,
        cups_uri,
        new_password,
        self_signed,
        fingerprint: crate::tls::fingerprint(&der),
        devices,
    })
}

fn page(state: &AppState, who: &SignedIn) -> Page {
    Page::for_user("Set up printing", &state.services.identity, who)
}

/// `GET /portal/setup`: the steps; a just-made app password once (its cookie goes).
pub async fn setup_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, PageError> {
    let sealed = req.cookie(NEW_PASSWORD_COOKIE);
    let new_password = sealed.as_ref().and_then(|c| {
        state
            .services
            .identity
            .open_to_show(&who.principal.user, c.value())
    });
    let mut response = show(&req, &state, &who, page(&state, &who), new_password).await?;
    if sealed.is_some() {
        response
            .add_cookie(&new_password_cookie(String::new(), CookieDuration::ZERO))
            .map_err(|e| PageError(Problem::bad_request(e.to_string())))?;
    }
    // Never kept by a cache: the page may carry a secret.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

fn new_password_cookie(value: String, max_age: CookieDuration) -> Cookie<'static> {
    Cookie::build(NEW_PASSWORD_COOKIE, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .finish()
}

#[derive(Deserialize)]
pub struct DeviceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    device: String,
}

csrf_field!(DeviceForm);

/// `POST /portal/setup`: an app password for the named device, then back to the page
/// (post/redirect/get: a refresh makes no second one).
pub async fn make_app_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: UserForm<DeviceForm>,
) -> Result<HttpResponse, PageError> {
    let identity = &state.services.identity;
    let user = &who.principal.user;
    match identity
        .create_app_password(user, &form.device, &client)
        .await
    {
        Ok(made) => {
            let sealed = identity.seal_to_show(user, &made)?;
            let mut response = redirect("/portal/setup#new-password");
            response
                .add_cookie(&new_password_cookie(sealed, CookieDuration::minutes(5)))
                .map_err(|e| PageError(Problem::bad_request(e.to_string())))?;
            Ok(response)
        }
        Err(e) => {
            let problem = Problem::from(e);
            let page = page(&state, &who).with_outcome::<String>(Err(problem.clone()))?;
            let mut response = show(&req, &state, &who, page, None).await?;
            // The page again with the message, under the refusal's own status.
            *response.status_mut() = problem.status;
            Ok(refused_in_place(response, &problem))
        }
    }
}

/// `GET /portal/setup/printpark.mobileconfig`: the Apple configuration profile.
pub async fn apple_profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    _who: SignedIn,
) -> Result<HttpResponse, PageError> {
    let address = queue_address(&req, &state);
    let (der, self_signed) = server_certificate(&state)?;
    let body = profile::mobileconfig(&profile::Profile {
        address: &address,
        queue_name: &state.services.settings.queue.name,
        certificate: self_signed.then_some(der.as_slice()),
        uuid_of: &|what: &str| {
            profile::uuid_from(
                &state
                    .services
                    .vault
                    .keyed_hash("setup-profile", what.as_bytes()),
            )
        },
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-apple-aspen-config")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"printpark.mobileconfig\"",
        ))
        .body(body))
}

/// `GET /portal/setup/printpark.crt`: the server's certificate, DER (Windows, Android,
/// ChromeOS import this form).
pub async fn certificate_der(
    state: web::Data<AppState>,
    _who: SignedIn,
) -> Result<HttpResponse, PageError> {
    let (der, _) = server_certificate(&state)?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-x509-ca-cert")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"printpark.crt\"",
        ))
        .body(der))
}

/// `GET /portal/setup/printpark.pem`: the same certificate, PEM (Linux).
pub async fn certificate_pem(
    state: web::Data<AppState>,
    _who: SignedIn,
) -> Result<HttpResponse, PageError> {
    let (der, _) = server_certificate(&state)?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    Ok(HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"printpark.pem\"",
        ))
        .body(pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_address_comes_from_the_base_url() {
        let a = QueueAddress::from_base("https://Print.Example.org:8443").unwrap();
        assert_eq!(a.ipps(), "ipps://print.example.org:8443/ipp/print");
        assert_eq!(a.https(), "https://print.example.org:8443/ipp/print");
        let a = QueueAddress::from_base("https://print.example.org/").unwrap();
        assert_eq!(a.authority(), "print.example.org:443");
        let a = QueueAddress::from_base("https://[fd00::5]:8443").unwrap();
        assert_eq!(a.authority(), "[fd00::5]:8443");
        assert_eq!(a.bare_host(), "fd00::5");
        assert_eq!(QueueAddress::from_base("print.example.org"), None);
        assert_eq!(QueueAddress::from_base("https://:8443"), None);
    }

    #[test]
    fn user_names_are_escaped_for_a_url() {
        assert_eq!(userinfo("ann"), "ann");
        assert_eq!(userinfo("ann@example.org"), "ann%40example.org");
        assert_eq!(userinfo("a b:c"), "a%20b%3Ac");
    }
}
