//! TLS for every side of PrintPark, on rustls with the aws-lc-rs provider:
//!
//! - the one listener's certificate: the admin's own (`server.tls_cert`/`tls_key`),
//!   or a self-signed one made on first start under `<data_dir>/tls` and reused after,
//!   naming the machine (localhost, host name, LAN addresses) and the public address;
//!   made again, and swapped in live, when the public address changes (issue 20);
//! - one certificate-pinning verifier for every client we run: the IPP client towards
//!   printers, the agent towards the server, the health check and tests towards our
//!   own listener. Printers and PrintPark servers show self-signed certificates that no
//!   CA vouches for, so a CA check would refuse every one of them. Instead a
//!   certificate is trusted by its SHA-256 fingerprint: the pinned one, or, on first
//!   contact, the first one seen (the caller records it from the slot the verifier
//!   fills), so a swapped peer or a machine in the middle is caught from the second
//!   contact on.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::DigitallySignedStruct;
use rustls::ServerConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use crate::config::Settings;

/// Why a certificate, a key or a TLS configuration could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read, written or made.
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    /// rustls refused the configuration (protocol versions, certificate and key).
    #[error("{0}")]
    Config(String),
}

fn tls_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Where the certificate and key are (or will be made).
pub fn certificate_paths(settings: &Settings) -> (PathBuf, PathBuf) {
    match (&settings.server.tls_cert, &settings.server.tls_key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => (
            settings.tls_dir().join("cert.pem"),
            settings.tls_dir().join("key.pem"),
        ),
    }
}

/// The file beside a self-made certificate listing the names it was made for, one a
/// line: how a start or a changed public address knows whether to make it again
/// without parsing X.509.
const NAMES_FILE: &str = "cert.names";

/// Paths of the certificate and key in use, making a self-signed pair if needed (for
/// the host of `server.public_url`, if set). Operator commands use this; the server
/// uses [`server_config`], which also names the machine's addresses.
pub fn ensure_certificate(settings: &Settings) -> Result<(PathBuf, PathBuf), TlsError> {
    let public = settings
        .server
        .public_url
        .as_deref()
        .and_then(|u| crate::config::PublicAddress::parse(u).ok())
        .map(|a| a.certificate_name());
    ensure_certificate_for(settings, public.as_deref(), &[]).map(|(cert, key, _)| (cert, key))
}

/// Paths of the certificate and key in use. The admin's own pair is never touched.
/// A self-made pair is made when missing, and made again when it does not carry
/// `public_name` (the host of the public address, changed since it was made); a new
/// one carries `machine_names` (localhost, the host name, the LAN addresses) too.
/// Returns whether a certificate was made now.
pub fn ensure_certificate_for(
    settings: &Settings,
    public_name: Option<&str>,
    machine_names: &[String],
) -> Result<(PathBuf, PathBuf, bool), TlsError> {
    let (cert, key) = certificate_paths(settings);
    if settings.server.tls_cert.is_some() {
        return Ok((cert, key, false));
    }
    if cert.exists() && key.exists() {
        let carried = names_carried(settings);
        if public_name.is_none_or(|wanted| carried.iter().any(|n| n.eq_ignore_ascii_case(wanted))) {
            return Ok((cert, key, false));
        }
    }
    let dir = settings.tls_dir();
    std::fs::create_dir_all(&dir).map_err(|e| tls_error(&dir, e))?;
    let mut names: Vec<String> = if machine_names.is_empty() {
        legacy_names()
    } else {
        machine_names.to_vec()
    };
    if let Some(public) = public_name {
        names.insert(0, public.to_ascii_lowercase());
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| !n.is_empty() && seen.insert(n.to_ascii_lowercase()));
    let certified =
        rcgen::generate_simple_self_signed(names.clone()).map_err(|e| tls_error(&cert, e))?;
    // Written beside and renamed over, so a reader never sees a key of one pair with
    // the certificate of another for longer than between the two renames.
    let (key_tmp, cert_tmp) = (
        key.with_extension("pem.tmp"),
        cert.with_extension("pem.tmp"),
    );
    write_private(&key_tmp, certified.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_tmp, certified.cert.pem()).map_err(|e| tls_error(&cert, e))?;
    std::fs::rename(&key_tmp, &key).map_err(|e| tls_error(&key, e))?;
    std::fs::rename(&cert_tmp, &cert).map_err(|e| tls_error(&cert, e))?;
    let names_path = dir.join(NAMES_FILE);
    std::fs::write(&names_path, format!("{}\n", names.join("\n")))
        .map_err(|e| tls_error(&names_path, e))?;
    tracing::info!(cert = %cert.display(), names = ?names, "generated a self-signed TLS certificate (set server.tls_cert/tls_key to use your own)");
    Ok((cert, key, true))
}

/// The names the self-made certificate carries: from its names file, or, for one made
/// before that file existed, what those versions put in (localhost, the loopback
/// addresses, the host name and the host of `server.public_url`).
fn names_carried(settings: &Settings) -> Vec<String> {
    match std::fs::read_to_string(settings.tls_dir().join(NAMES_FILE)) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(_) => {
            let mut names = legacy_names();
            if let Some(url) = settings
                .server
                .public_url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                && let Some(host) = url.host_str()
            {
                names.push(host.trim_start_matches('[').trim_end_matches(']').into());
            }
            names
        }
    }
}

/// What a certificate carried before it named the machine's addresses.
fn legacy_names() -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() && !names.iter().any(|n| n == host) {
            names.push(host.to_string());
        }
    }
    names
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| tls_error(path, e))?;
    file.write_all(bytes).map_err(|e| tls_error(path, e))
}

/// The certificate and key from their PEM files, checked to belong together.
fn load_certified_key(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let certs: Vec<CertificateDer<'static>> = {
        let file = std::fs::File::open(cert_path).map_err(|e| tls_error(cert_path, e))?;
        rustls_pemfile::certs(&mut BufReader::new(file))
            .collect::<Result<_, _>>()
            .map_err(|e| tls_error(cert_path, e))?
    };
    if certs.is_empty() {
        return Err(tls_error(cert_path, "no certificate found in the PEM file"));
    }
    let key: PrivateKeyDer<'static> = {
        let file = std::fs::File::open(key_path).map_err(|e| tls_error(key_path, e))?;
        rustls_pemfile::private_key(&mut BufReader::new(file))
            .map_err(|e| tls_error(key_path, e))?
            .ok_or_else(|| tls_error(key_path, "no private key found in the PEM file"))?
    };
    CertifiedKey::from_der(certs, key, provider)
        .map_err(|e| TlsError::Config(format!("certificate and key do not match: {e}")))
}

/// The listener's certificate, swappable while it serves: a self-made certificate made
/// again for a new public address is shown from the next handshake on, no restart.
#[derive(Debug)]
pub struct LiveCertificate {
    current: RwLock<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
    settings: Settings,
}

impl ResolvesServerCert for LiveCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

impl LiveCertificate {
    /// Makes a self-made certificate again when it does not carry `public_name` and
    /// serves it from the next handshake on; the admin's own certificate is left alone.
    /// Returns whether it was made again.
    pub fn renew_for(&self, public_name: &str, machine_names: &[String]) -> Result<bool, TlsError> {
        let (cert, key, made) =
            ensure_certificate_for(&self.settings, Some(public_name), machine_names)?;
        if made {
            let certified = load_certified_key(&cert, &key, &self.provider)?;
            *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(certified);
        }
        Ok(made)
    }

    /// True when PrintPark made the certificate (false: the admin's `server.tls_cert`).
    pub fn is_self_made(&self) -> bool {
        self.settings.server.tls_cert.is_none()
    }
}

/// A rustls server configuration (HTTP/1.1; aws-lc-rs provider) for the listener, and
/// its certificate, which can be swapped while serving. A self-made certificate is made
/// for `public_name` and `machine_names` when missing or lacking `public_name`.
pub fn server_config(
    settings: &Settings,
    public_name: Option<&str>,
    machine_names: &[String],
) -> Result<(ServerConfig, Arc<LiveCertificate>), TlsError> {
    let (cert_path, key_path, _) = ensure_certificate_for(settings, public_name, machine_names)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certified = load_certified_key(&cert_path, &key_path, &provider)?;
    let live = Arc::new(LiveCertificate {
        current: RwLock::new(Arc::new(certified)),
        provider: provider.clone(),
        settings: settings.clone(),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(live.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // No TLS 1.3 session tickets: CUPS (GnuTLS) clients that read with a time-out —
    // its ipps backend, `ipptool -T` — take the post-handshake ticket record for the
    // end of the response and see 0 bytes. Sessions still resume through the server's
    // session cache (TLS 1.2) and full handshakes are cheap with the P-256 key.
    config.send_tls13_tickets = 0;
    Ok((config, live))
}

/// The first certificate of a PEM file.
pub fn load_first_certificate(path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    let file = std::fs::File::open(path).map_err(|e| tls_error(path, e))?;
    rustls_pemfile::certs(&mut BufReader::new(file))
        .next()
        .ok_or_else(|| tls_error(path, "no certificate found"))?
        .map_err(|e| tls_error(path, e))
}

/// SHA-256 of a certificate's DER, lower-case hex: the form pins are stored in.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Pins typed by an admin may be upper-case or colon-separated (as browsers show them).
pub fn normalize_pin(pin: &str) -> String {
    pin.chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Where a pinned client configuration leaves the fingerprint (SHA-256 hex) of the
/// last certificate it was shown, for the caller to read after the handshake
/// (succeeded or not: a mismatch must name the certificate it got).
pub type SeenCertificate = Arc<Mutex<Option<String>>>;

/// The fingerprint a pinned configuration last saw.
pub fn read_seen(seen: &SeenCertificate) -> Option<String> {
    seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// A client configuration that trusts exactly the certificate whose SHA-256 is `pin`,
/// or the first one it sees when there is no pin yet, and records the fingerprint it
/// saw in the returned slot (one configuration per connection).
pub fn client_config(pin: Option<&str>) -> (rustls::ClientConfig, SeenCertificate) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let seen: SeenCertificate = Arc::default();
    let verifier = Arc::new(PinnedCertificate {
        pin: pin.map(normalize_pin),
        seen: seen.clone(),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("the default provider supports the default versions"))
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    (config, seen)
}

/// A client configuration that trusts exactly one certificate, for talking to our own
/// listener whose certificate is usually self-signed.
pub fn pinned_client_config(pinned: CertificateDer<'static>) -> rustls::ClientConfig {
    client_config(Some(&fingerprint(pinned.as_ref()))).0
}

/// The one pinning verifier: trusts a certificate by its fingerprint (see the module
/// comment), and still checks that the peer holds the certificate's key.
#[derive(Debug)]
struct PinnedCertificate {
    pin: Option<String>,
    seen: SeenCertificate,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = fingerprint(end_entity.as_ref());
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(seen.clone());
        match &self.pin {
            Some(pin) if *pin != seen => Err(rustls::Error::General(
                "the certificate does not match the pinned one".into(),
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    // The certificate is trusted by pin, but the handshake must still prove that the
    // peer holds its key, or anyone could replay the peer's certificate.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_made_certificate_is_made_again_only_for_a_name_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let machine = vec!["localhost".to_string(), "192.0.2.7".to_string()];
        let (cert, _, made) = ensure_certificate_for(&settings, None, &machine).unwrap();
        assert!(made);
        assert_eq!(names_carried(&settings), machine);
        let first = std::fs::read(&cert).unwrap();
        // Known names (the machine's, in any case) change nothing.
        for name in [None, Some("LOCALHOST"), Some("192.0.2.7")] {
            assert!(!ensure_certificate_for(&settings, name, &machine).unwrap().2);
        }
        assert_eq!(std::fs::read(&cert).unwrap(), first);
        let (_, _, made) =
            ensure_certificate_for(&settings, Some("print.example"), &machine).unwrap();
        assert!(made);
        assert_eq!(names_carried(&settings)[0], "print.example");
        assert_ne!(std::fs::read(&cert).unwrap(), first);
        // The listener's configuration loads it.
        assert!(server_config(&settings, Some("print.example"), &machine).is_ok());
    }

    #[test]
    fn an_admins_own_certificate_is_never_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        settings.server.tls_cert = Some(dir.path().join("own.pem"));
        settings.server.tls_key = Some(dir.path().join("own.key"));
        let (_, _, made) = ensure_certificate_for(&settings, Some("print.example"), &[]).unwrap();
        assert!(!made);
        assert!(!dir.path().join("own.pem").exists());
    }
}
