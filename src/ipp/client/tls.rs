//! Trust on first use for printers' TLS certificates.
//!
//! Printers ship self-signed certificates that no CA vouches for, so a CA check would
//! refuse every one of them. Instead the first certificate seen is recorded (by the
//! caller, from the fingerprint this verifier reports) and every later connection must
//! present the same one: a swapped printer or a machine in the middle is caught from
//! the second contact on.

use std::sync::{Arc, Mutex};

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

/// SHA-256 of a certificate's DER, lower-case hex: the form pins are stored in.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Pins typed by an admin may be upper-case or colon-separated (as browsers show them).
pub(super) fn normalize_pin(pin: &str) -> String {
    pin.chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Where the verifier leaves the fingerprint it saw, for the caller to read after the
/// handshake (succeeded or not: a mismatch must name the certificate it got).
pub(super) type Observed = Arc<Mutex<Option<String>>>;

pub(super) fn read_observed(observed: &Observed) -> Option<String> {
    observed.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[derive(Debug)]
struct PinOnFirstUse {
    pin: Option<String>,
    observed: Observed,
    provider: Arc<CryptoProvider>,
}

/// A client configuration for one connection: it accepts the certificate whose
/// fingerprint is `pin`, or any certificate when there is no pin yet, and records
/// the fingerprint it saw in the returned slot.
pub(super) fn client_config(pin: Option<&str>) -> (rustls::ClientConfig, Observed) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let observed: Observed = Arc::default();
    let verifier = Arc::new(PinOnFirstUse {
        pin: pin.map(normalize_pin),
        observed: observed.clone(),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("the default provider supports the default versions"))
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    (config, observed)
}

impl ServerCertVerifier for PinOnFirstUse {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = fingerprint(end_entity.as_ref());
        *self.observed.lock().unwrap_or_else(|p| p.into_inner()) = Some(seen.clone());
        match &self.pin {
            Some(pin) if *pin != seen => Err(rustls::Error::General(
                "the certificate does not match the pinned one".into(),
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    // The certificate is trusted by pin, but the handshake must still prove that the
    // peer holds its key, or anyone could replay the printer's certificate.
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
