//! The IPP client PrintPark uses to deliver released jobs to printers and to ask them
//! how they are. One connection per request: printers are slow to print, not to
//! connect, and a fresh connection never inherits a half-read answer.
//!
//! Errors say how far a request got ([`ClientError`]), because the release layer must
//! never send a job twice when the first copy may have printed.

#![warn(missing_docs)]

/// Reachable crate-wide so the fuzz target can drive the response reader.
pub(crate) mod http;
mod report;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWriteExt};

use super::wire::{Attribute, Group, Limits, Message, Value, encode, group, read_message, tag};
use super::{op, status};
use http::{CHUNK, Endpoint, Io};

pub use http::fill;
pub use report::{PrinterReport, PrinterState};

/// Status codes the delivery logic tells apart that `ipp::status` does not name.
pub mod more_status {
    /// server-error-not-accepting-jobs: the printer is paused or stopped.
    pub const NOT_ACCEPTING_JOBS: u16 = 0x0506;
    /// server-error-busy: try again shortly (ippeveprinter, one job at a time).
    pub const BUSY: u16 = 0x0507;
    /// server-error-temporary-error: try again later.
    pub const TEMPORARY_ERROR: u16 = 0x0505;
}

/// How long each step of a request may take. Printers that sleep take seconds to wake;
/// a stalled one must not hold a release for ever.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect (including name resolution).
    pub connect: Duration,
    /// TLS handshake.
    pub handshake: Duration,
    /// Each write must finish within this; a printer that stops reading fails here.
    pub write: Duration,
    /// From the end of the request to the complete answer.
    pub response: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            handshake: Duration::from_secs(5),
            write: Duration::from_secs(30),
            response: Duration::from_secs(60),
        }
    }
}

/// Why a request failed, and so whether anything can have reached the printer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Name resolution, connect or TLS handshake failed: nothing was sent.
    #[error("the printer could not be reached: {0}")]
    Unreachable(String),
    /// The printer showed another certificate than the pinned one: nothing was sent.
    #[error(
        "the printer's TLS certificate changed (expected sha256 {}…, got {}…)",
        short(.expected),
        short(.got)
    )]
    CertificateChanged {
        /// The pinned fingerprint (SHA-256, lower-case hex).
        expected: String,
        /// The fingerprint of the certificate the printer showed.
        got: String,
    },
    /// The printer answered with an HTTP status other than 200 (the job was not taken).
    #[error("the printer answered HTTP {0}")]
    Http(u16),
    /// A definitive IPP answer other than success.
    #[error("the printer answered {} ({message})", status_name(*.status))]
    Ipp {
        /// The IPP status code.
        status: u16,
        /// status-message, or the status name when the printer gave none.
        message: String,
    },
    /// The connection broke or stalled after the request started going out; the bytes
    /// counted are request body bytes handed to the network before that.
    #[error("{reason} after {}", human_bytes(*.bytes_sent))]
    Interrupted {
        /// Request body bytes written before the break.
        bytes_sent: u64,
        /// What broke: "connection reset", "the printer stopped reading for 30s" …
        reason: String,
    },
    /// The printer's answer was not HTTP or not IPP.
    #[error("the printer's answer is malformed: {0}")]
    Protocol(String),
}

fn short(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

/// Sizes as people read them (decimal units, as printers and file managers show them).
pub fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

/// The RFC 8011 name of a status code, for messages.
pub fn status_name(code: u16) -> String {
    let name = match code {
        0x0000..=0x00FF => "successful-ok",
        status::BAD_REQUEST => "client-error-bad-request",
        status::FORBIDDEN => "client-error-forbidden",
        status::NOT_AUTHENTICATED => "client-error-not-authenticated",
        status::NOT_AUTHORIZED => "client-error-not-authorized",
        status::NOT_POSSIBLE => "client-error-not-possible",
        status::NOT_FOUND => "client-error-not-found",
        status::GONE => "client-error-gone",
        status::REQUEST_ENTITY_TOO_LARGE => "client-error-request-entity-too-large",
        status::DOCUMENT_FORMAT_NOT_SUPPORTED => "client-error-document-format-not-supported",
        status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED => {
            "client-error-attributes-or-values-not-supported"
        }
        status::COMPRESSION_NOT_SUPPORTED => "client-error-compression-not-supported",
        status::DOCUMENT_FORMAT_ERROR => "client-error-document-format-error",
        status::INTERNAL_ERROR => "server-error-internal-error",
        status::OPERATION_NOT_SUPPORTED => "server-error-operation-not-supported",
        status::SERVICE_UNAVAILABLE => "server-error-service-unavailable",
        status::VERSION_NOT_SUPPORTED => "server-error-version-not-supported",
        more_status::TEMPORARY_ERROR => "server-error-temporary-error",
        more_status::NOT_ACCEPTING_JOBS => "server-error-not-accepting-jobs",
        more_status::BUSY => "server-error-busy",
        status::TOO_MANY_JOBS => "server-error-too-many-jobs",
        _ => return format!("status 0x{code:04x}"),
    };
    name.to_owned()
}

/// Whether a status code is one of the successful-ok family.
pub fn is_success(code: u16) -> bool {
    code <= 0x00FF
}

/// A new request with the operation attributes every request needs (RFC 8011 §4.1.4).
/// IPP/1.1, because every IPP printer speaks it and it has all PrintPark uses.
pub fn new_request(operation: u16, printer_uri: &str, user: &str) -> Message {
    static NEXT_ID: AtomicU32 = AtomicU32::new(1);
    let mut ops = Group::new(group::OPERATION);
    ops.push(Attribute::new(
        "attributes-charset",
        Value::String(tag::CHARSET, "utf-8".into()),
    ));
    ops.push(Attribute::new(
        "attributes-natural-language",
        Value::String(tag::LANGUAGE, "en".into()),
    ));
    ops.push(Attribute::new("printer-uri", Value::uri(printer_uri)));
    ops.push(Attribute::new("requesting-user-name", Value::name(user)));
    Message {
        version: (1, 1),
        code: operation,
        request_id: NEXT_ID.fetch_add(1, Ordering::Relaxed).max(1),
        groups: vec![ops],
    }
}

/// The status-message of an answer, or the status name when it has none.
pub fn status_message(response: &Message) -> String {
    response
        .operation_str("status-message")
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| status_name(response.code))
}

/// A printer's answer and how many request body bytes went out for it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The IPP response, whatever its status.
    pub response: Message,
    /// Request body bytes written (attributes and document).
    pub bytes_sent: u64,
}

/// An open connection to a printer on which nothing has been sent yet.
pub struct Connection {
    io: Box<dyn Io>,
    endpoint: Endpoint,
    cert_sha256: Option<String>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("uri", &self.endpoint.uri)
            .field("cert_sha256", &self.cert_sha256)
            .finish()
    }
}

impl Connection {
    /// Connects to an `ipp://` or `ipps://` URI (port 631 unless given). Over TLS the
    /// certificate must match `pin` when one is given; see [`Self::cert_sha256`].
    pub async fn open(
        uri: &str,
        pin: Option<&str>,
        timeouts: &Timeouts,
    ) -> Result<Self, ClientError> {
        let endpoint = Endpoint::parse(uri)?;
        let (io, cert_sha256) = http::open(&endpoint, pin, timeouts).await?;
        Ok(Self {
            io,
            endpoint,
            cert_sha256,
            timeouts: *timeouts,
        })
    }

    /// The URI this connection was opened for (the `printer-uri` to send).
    pub fn uri(&self) -> &str {
        &self.endpoint.uri
    }

    /// SHA-256 of the certificate the printer showed (ipps only), for pinning it.
    pub fn cert_sha256(&self) -> Option<&str> {
        self.cert_sha256.as_deref()
    }

    /// Sends one request, followed by `document` streamed in 64 KiB chunks, and reads
    /// the answer. Any IPP status comes back as `Ok`: the caller decides what it means.
    pub async fn send(
        mut self,
        request: &Message,
        document: Option<&mut (dyn AsyncRead + Send + Unpin)>,
    ) -> Result<Answer, ClientError> {
        let ipp = encode(request);
        let mut sent = 0u64;
        let write = self.timeouts.write;
        let io: &mut dyn Io = self.io.as_mut();
        let written = match document {
            None => {
                let mut out = http::request_head(&self.endpoint, Some(ipp.len())).into_bytes();
                out.extend_from_slice(&ipp);
                let done = http::write_all(io, &out, write).await;
                if done.is_ok() {
                    sent = ipp.len() as u64;
                }
                done
            }
            Some(document) => stream(io, &self.endpoint, &ipp, document, write, &mut sent).await?,
        };
        let written = match written {
            Ok(()) => match tokio::time::timeout(write, io.flush()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(http::describe(&e)),
                Err(_) => Err(format!("the printer stopped reading for {write:?}")),
            },
            failed => failed,
        };
        let answer = match written {
            Ok(()) => http::read_response(io, self.timeouts.response)
                .await
                .map_err(|failure| match failure {
                    http::ReadFailure::Io(reason) => ClientError::Interrupted {
                        bytes_sent: sent,
                        reason,
                    },
                    http::ReadFailure::Malformed(why) => ClientError::Protocol(why),
                })?,
            Err(reason) => http::read_late_response(io)
                .await
                .ok_or(ClientError::Interrupted {
                    bytes_sent: sent,
                    reason,
                })?,
        };
        let (code, body) = answer;
        if code != 200 {
            return Err(ClientError::Http(code));
        }
        let limits = Limits {
            max_bytes: http::MAX_RESPONSE,
            max_attributes: 50_000,
            max_depth: 16,
        };
        let response = read_message(&mut body.as_slice(), limits)
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Answer {
            response,
            bytes_sent: sent,
        })
    }
}

/// Writes the head and the chunked body. The outer `Err` is a document read failure;
/// the inner result is the network's. The first piece of the document is read before
/// anything is written, so a source that fails at once leaves the printer untouched.
async fn stream(
    io: &mut dyn Io,
    endpoint: &Endpoint,
    ipp: &[u8],
    document: &mut (dyn AsyncRead + Send + Unpin),
    write: Duration,
    sent: &mut u64,
) -> Result<Result<(), String>, ClientError> {
    let read_failed = |sent: u64, e: std::io::Error| ClientError::Interrupted {
        bytes_sent: sent,
        reason: format!("reading the document failed: {e}"),
    };
    let mut buf = vec![0u8; CHUNK];
    let mut frame = Vec::with_capacity(CHUNK + 16);
    let mut n = http::fill(document, &mut buf)
        .await
        .map_err(|e| read_failed(0, e))?;
    frame.extend_from_slice(http::request_head(endpoint, None).as_bytes());
    push_chunk(&mut frame, ipp);
    let mut payload = ipp.len() as u64;
    loop {
        if n == 0 {
            frame.extend_from_slice(b"0\r\n\r\n");
        } else {
            push_chunk(&mut frame, &buf[..n]);
            payload += n as u64;
        }
        if let Err(reason) = http::write_all(io, &frame, write).await {
            return Ok(Err(reason));
        }
        *sent += payload;
        if n == 0 {
            return Ok(Ok(()));
        }
        frame.clear();
        payload = 0;
        n = http::fill(document, &mut buf)
            .await
            .map_err(|e| read_failed(*sent, e))?;
    }
}

fn push_chunk(frame: &mut Vec<u8>, data: &[u8]) {
    frame.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    frame.extend_from_slice(data);
    frame.extend_from_slice(b"\r\n");
}

/// Asks the printer at `uri` (`ipp://` or `ipps://`) how it is and what it can do.
pub async fn get_printer_attributes(
    uri: &str,
    pin: Option<&str>,
    timeouts: &Timeouts,
) -> Result<PrinterReport, ClientError> {
    let connection = Connection::open(uri, pin, timeouts).await?;
    let cert_sha256 = connection.cert_sha256.clone();
    let mut request = new_request(op::GET_PRINTER_ATTRIBUTES, uri, "printpark");
    request.groups[0].push(Attribute::many(
        "requested-attributes",
        report::REQUESTED
            .iter()
            .map(|a| Value::keyword(a))
            .collect(),
    ));
    let answer = connection.send(&request, None).await?;
    if !is_success(answer.response.code) {
        return Err(ClientError::Ipp {
            status: answer.response.code,
            message: status_message(&answer.response),
        });
    }
    Ok(PrinterReport::from_response(&answer.response, cert_sha256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_bytes(812), "812 bytes");
        assert_eq!(human_bytes(48_000), "48.0 kB");
        assert_eq!(human_bytes(3_100_000), "3.1 MB");
    }

    #[test]
    fn a_changed_certificate_names_both_fingerprints_shortly() {
        let e = ClientError::CertificateChanged {
            expected: "ab12".repeat(16),
            got: "cd34".repeat(16),
        };
        assert_eq!(
            e.to_string(),
            "the printer's TLS certificate changed (expected sha256 ab12ab12ab12ab12…, got cd34cd34cd34cd34…)"
        );
    }
}
