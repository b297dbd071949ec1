//! One connection to the directory, step by step so a failure names its step: TCP,
//! then TLS (LDAPS, or StartTLS on `ldap://`; plain only when the settings say
//! `insecure_plain`), then a bind. Every step gives up after the settings' time-out.
//!
//! TLS trusts the CA the settings name (a file or a pasted PEM), the system's roots,
//! or exactly one pinned certificate (the crate's one pinning verifier in `tls.rs`).

use std::io::BufReader;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, StdStream};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use super::LdapError;
use super::settings::{DirectorySettings, Trust};
use crate::config::LdapSecurity;

/// LDAP result code 49: wrong DN or password (AD says so for an unknown DN too).
pub const INVALID_CREDENTIALS: u32 = 49;

/// Opens a connection (TCP, then TLS) and returns the handle; the connection's driver
/// runs on its own task until the handle is dropped or unbinds.
pub async fn open(s: &DirectorySettings) -> Result<Ldap, LdapError> {
    let url = url::Url::parse(&s.url).map_err(|e| LdapError::Invalid(format!("URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| LdapError::Invalid("the URL names no server".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url
        .port()
        .unwrap_or(if url.scheme() == "ldaps" { 636 } else { 389 });
    let tcp = tokio::time::timeout(
        s.timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| LdapError::Timeout {
        step: "TCP connect",
        secs: s.timeout.as_secs(),
    })?
    .map_err(|e| LdapError::Connect(format!("{host}:{port}: {e}")))?;
    // ldap3 writes each message (StartTLS, the handshake, bind, search) as small
    // packets: without TCP_NODELAY every exchange can wait for the peer's delayed ACK
    // (40 ms on Linux), on every sign-in and every page of a sync.
    tcp.set_nodelay(true)
        .map_err(|e| LdapError::Connect(format!("{host}:{port}: {e}")))?;
    let std = tcp
        .into_std()
        .map_err(|e| LdapError::Connect(format!("{host}:{port}: {e}")))?;
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(s.timeout)
        .set_std_stream(StdStream::Tcp(std));
    let tls = s.security != LdapSecurity::InsecurePlain;
    if tls {
        settings = settings
            .set_starttls(s.security == LdapSecurity::StartTls)
            .set_config(Arc::new(client_config(&s.trust)?));
    }
    let (conn, ldap) = match LdapConnAsync::from_url_with_settings(settings, &url).await {
        Ok(pair) => pair,
        Err(ldap3::LdapError::Timeout { .. }) => {
            return Err(LdapError::Timeout {
                step: if tls { "TLS handshake" } else { "connect" },
                secs: s.timeout.as_secs(),
            });
        }
        Err(e) if tls => return Err(LdapError::Tls(tls_reason(&e))),
        Err(e) => return Err(LdapError::Connect(e.to_string())),
    };
    ldap3::drive!(conn);
    Ok(ldap)
}

/// What a TLS failure says, in words an admin can act on.
fn tls_reason(e: &ldap3::LdapError) -> String {
    let text = e.to_string();
    if text.contains("pinned") {
        "the server's certificate does not match the pinned fingerprint".into()
    } else if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") {
        format!(
            "the server's certificate is not trusted (set the CA or pin the certificate): {text}"
        )
    } else if let ldap3::LdapError::LdapResult { result } = e {
        format!("the server refused StartTLS: {result}")
    } else {
        text
    }
}

/// The rustls client configuration for the settings' trust.
fn client_config(trust: &Trust) -> Result<rustls::ClientConfig, LdapError> {
    let roots = match trust {
        Trust::Pinned(pin) => return Ok(crate::tls::client_config(Some(pin)).0),
        Trust::System => {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                roots.add(cert).ok();
            }
            roots
        }
        Trust::CaFile(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| LdapError::Invalid(format!("CA file {}: {e}", path.display())))?;
            roots_of(&pem)?
        }
        Trust::CaPem(pem) => roots_of(pem.as_bytes())?,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LdapError::Invalid(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn roots_of(pem: &[u8]) -> Result<RootCertStore, LdapError> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut BufReader::new(pem))
        .collect::<Result<_, _>>()
        .map_err(|e| LdapError::Invalid(format!("the CA is not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(LdapError::Invalid(
            "the CA holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| LdapError::Invalid(format!("the CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// A simple bind within the time-out. `Ok(false)` is a refused password (code 49).
pub async fn bind(
    ldap: &mut Ldap,
    dn: &str,
    password: &str,
    timeout: Duration,
) -> Result<bool, LdapError> {
    // An empty password would be an "unauthenticated bind" that many servers accept
    // as anonymous: never a sign-in.
    if password.is_empty() || dn.is_empty() {
        return Ok(false);
    }
    let result = ldap
        .with_timeout(timeout)
        .simple_bind(dn, password)
        .await
        .map_err(|e| match e {
            ldap3::LdapError::Timeout { .. } => LdapError::Timeout {
                step: "bind",
                secs: timeout.as_secs(),
            },
            other => LdapError::Connect(other.to_string()),
        })?;
    match result.rc {
        0 => Ok(true),
        INVALID_CREDENTIALS => Ok(false),
        _ => Err(LdapError::Bind(result.to_string())),
    }
}

/// Opens a connection and binds as the service account.
pub async fn open_as_service(s: &DirectorySettings) -> Result<Ldap, LdapError> {
    let mut ldap = open(s).await?;
    let password = s.bind_password.as_ref().map(|p| p.as_str()).unwrap_or("");
    if !bind(&mut ldap, &s.bind_dn, password, s.timeout).await? {
        return Err(LdapError::Bind(
            "the directory refused the bind account's DN or password".into(),
        ));
    }
    Ok(ldap)
}
