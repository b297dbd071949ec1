//! One SMTP session with the relay, step by step (connect, TLS, sign-in, sender,
//! recipients, message), so a failure names the step that failed: lettre's pooled
//! transport would only say "permanent error (550)". Each step has the relay's
//! time-out; nothing here logs, and the errors carry relay replies, never secrets.

use std::future::Future;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;

use super::{MailError, Relay};
use crate::config::SmtpSecurity;

/// The TLS parameters for the relay: its host name checked against its certificate,
/// which must chain to the configured CA (then only to it) or to the system's roots.
fn tls_parameters(relay: &Relay) -> Result<TlsParameters, MailError> {
    let mut builder = TlsParameters::builder(relay.host.clone());
    if let Some(pem) = &relay.ca_pem {
        let ca = Certificate::from_pem(pem).map_err(|e| MailError::Tls {
            relay: relay.name(),
            reason: format!("the CA to trust cannot be read: {e}"),
        })?;
        builder = builder
            .certificate_store(CertificateStore::None)
            .add_root_certificate(ca);
    }
    builder.build_rustls().map_err(|e| MailError::Tls {
        relay: relay.name(),
        reason: e.to_string(),
    })
}

/// The innermost cause of an error: "Connection refused (os error 111)" rather than
/// lettre's "Connection error: …" wrapper.
fn cause(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text = e.to_string();
        source = e.source();
    }
    text
}

/// The relay's reply to a refused step ("550 5.1.1 no such user"), or the cause.
fn reply(error: &lettre::transport::smtp::Error) -> String {
    match error.status() {
        Some(code) => format!("{code} {}", cause(error)),
        None => cause(error),
    }
}

/// Runs one step under the relay's time-out.
async fn step<T>(
    relay: &Relay,
    work: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    refused: impl FnOnce(&lettre::transport::smtp::Error) -> MailError,
) -> Result<T, MailError> {
    match tokio::time::timeout(relay.timeout, work).await {
        Err(_) => Err(timed_out(relay)),
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) if e.is_timeout() => Err(timed_out(relay)),
        Ok(Err(e)) if e.is_tls() || is_tls_failure(&e) => Err(MailError::Tls {
            relay: relay.name(),
            reason: cause(&e),
        }),
        Ok(Err(e)) => Err(refused(&e)),
    }
}

/// A TLS handshake that failed (lettre reports it as a connection error): a rustls
/// error somewhere in the chain, maybe inside an I/O error.
fn is_tls_failure(error: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        if e.downcast_ref::<rustls::Error>().is_some()
            || inner.is_some_and(|i| i.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        source = e.source();
    }
    false
}

fn timed_out(relay: &Relay) -> MailError {
    MailError::TimedOut {
        relay: relay.name(),
        secs: relay.timeout.as_secs(),
    }
}

/// Sends one message through the relay.
pub(super) async fn deliver(
    relay: &Relay,
    envelope: &Envelope,
    message: &[u8],
) -> Result<(), MailError> {
    let hello = ClientId::default();
    let tls = match relay.security {
        SmtpSecurity::InsecurePlain => None,
        SmtpSecurity::StartTls | SmtpSecurity::Tls => Some(tls_parameters(relay)?),
    };
    let implicit = match relay.security {
        SmtpSecurity::Tls => tls.clone(),
        _ => None,
    };
    let mut connection = step(
        relay,
        AsyncSmtpConnection::connect_tokio1(
            (relay.host.as_str(), relay.port),
            Some(relay.timeout),
            &hello,
            implicit,
            None,
        ),
        |e| MailError::Connect {
            relay: relay.name(),
            reason: cause(e),
        },
    )
    .await?;
    session(relay, &mut connection, tls, &hello, envelope, message).await?;
    // After a failure the connection is only dropped (closed): a failed TLS upgrade
    // leaves lettre's stream unusable, even for a QUIT.
    let _ = tokio::time::timeout(relay.timeout, connection.quit()).await;
    Ok(())
}

async fn session(
    relay: &Relay,
    connection: &mut AsyncSmtpConnection,
    tls: Option<TlsParameters>,
    hello: &ClientId,
    envelope: &Envelope,
    message: &[u8],
) -> Result<(), MailError> {
    if relay.security == SmtpSecurity::StartTls {
        let Some(tls) = tls else {
            return Err(MailError::Protocol("no TLS parameters".into()));
        };
        if !connection.can_starttls() {
            // Never fall back to plain text: the password would cross in clear.
            return Err(MailError::Tls {
                relay: relay.name(),
                reason: "the relay does not offer STARTTLS".into(),
            });
        }
        step(relay, connection.starttls(tls, hello), |e| MailError::Tls {
            relay: relay.name(),
            reason: cause(e),
        })
        .await?;
    }
    if let (Some(user), Some(password)) = (&relay.username, &relay.password) {
        let credentials = Credentials::new(user.clone(), password.expose().to_owned());
        step(
            relay,
            connection.auth(&[Mechanism::Plain, Mechanism::Login], &credentials),
            |e| {
                if e.is_client() {
                    MailError::Auth(
                        "the relay offers no password sign-in (AUTH PLAIN or LOGIN) on this connection"
                            .into(),
                    )
                } else {
                    MailError::Auth(reply(e))
                }
            },
        )
        .await?;
    }
    step(
        relay,
        connection.command(Mail::new(envelope.from().cloned(), vec![])),
        |e| MailError::SenderRefused(reply(e)),
    )
    .await?;
    for to in envelope.to() {
        step(
            relay,
            connection.command(Rcpt::new(to.clone(), vec![])),
            |e| MailError::RecipientRefused(format!("{to}: {}", reply(e))),
        )
        .await?;
    }
    step(relay, connection.command(Data), |e| {
        MailError::MessageRefused(reply(e))
    })
    .await?;
    step(relay, connection.message(message), |e| {
        MailError::MessageRefused(reply(e))
    })
    .await?;
    Ok(())
}
