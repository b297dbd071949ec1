//! The one TLS listener's certificate: the admin's own (`server.tls_cert`/`tls_key`),
//! or a self-signed one made on first start under `<data_dir>/tls` and reused after.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Settings;
use crate::services::StartError;

fn tls_error(path: &Path, reason: impl std::fmt::Display) -> StartError {
    StartError::Tls(format!("{}: {reason}", path.display()))
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

/// Paths of the certificate and key in use, making a self-signed pair if needed.
pub fn ensure_certificate(settings: &Settings) -> Result<(PathBuf, PathBuf), StartError> {
    let (cert, key) = certificate_paths(settings);
    if settings.server.tls_cert.is_some() || (cert.exists() && key.exists()) {
        return Ok((cert, key));
    }
    let dir = settings.tls_dir();
    std::fs::create_dir_all(&dir).map_err(|e| tls_error(&dir, e))?;
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
    if let Some(url) = settings
        .server
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        && let Some(host) = url.host_str()
    {
        names.push(host.to_string());
    }
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| tls_error(&cert, e))?;
    write_private(&key, certified.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert, certified.cert.pem()).map_err(|e| tls_error(&cert, e))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate (set server.tls_cert/tls_key to use your own)");
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StartError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| tls_error(path, e))?;
    file.write_all(bytes).map_err(|e| tls_error(path, e))
}

/// A rustls server configuration (HTTP/1.1; aws-lc-rs provider) for the listener.
pub fn server_config(settings: &Settings) -> Result<ServerConfig, StartError> {
    let (cert_path, key_path) = ensure_certificate(settings)?;
    let certs: Vec<CertificateDer<'static>> = {
        let file = std::fs::File::open(&cert_path).map_err(|e| tls_error(&cert_path, e))?;
        rustls_pemfile::certs(&mut BufReader::new(file))
            .collect::<Result<_, _>>()
            .map_err(|e| tls_error(&cert_path, e))?
    };
    if certs.is_empty() {
        return Err(tls_error(
            &cert_path,
            "no certificate found in the PEM file",
        ));
    }
    let key: PrivateKeyDer<'static> = {
        let file = std::fs::File::open(&key_path).map_err(|e| tls_error(&key_path, e))?;
        rustls_pemfile::private_key(&mut BufReader::new(file))
            .map_err(|e| tls_error(&key_path, e))?
            .ok_or_else(|| tls_error(&key_path, "no private key found in the PEM file"))?
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(format!("certificate and key do not match: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // No TLS 1.3 session tickets: CUPS (GnuTLS) clients that read with a time-out —
    // its ipps backend, `ipptool -T` — take the post-handshake ticket record for the
    // end of the response and see 0 bytes. Sessions still resume through the server's
    // session cache (TLS 1.2) and full handshakes are cheap with the P-256 key.
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// A client configuration that trusts exactly one certificate (pinning), for talking to
/// our own listener whose certificate is usually self-signed.
pub fn pinned_client_config(pinned: CertificateDer<'static>) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedCertificate {
        pinned,
        provider: provider.clone(),
    });
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("the default provider supports the default versions"))
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// The first certificate of a PEM file.
pub fn load_first_certificate(path: &Path) -> Result<CertificateDer<'static>, StartError> {
    let file = std::fs::File::open(path).map_err(|e| tls_error(path, e))?;
    rustls_pemfile::certs(&mut BufReader::new(file))
        .next()
        .ok_or_else(|| tls_error(path, "no certificate found"))?
        .map_err(|e| tls_error(path, e))
}

#[derive(Debug)]
struct PinnedCertificate {
    pinned: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "server certificate does not match the pinned one".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
