//! Just enough HTTP/1.1 for IPP: one POST per connection, the document streamed as
//! chunks, the answer read with a size cap (`response`). No general HTTP client is used because
//! none lets us count the bytes that left (the push layer must know whether anything
//! reached the printer) or time each write separately from the whole request.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ClientError, Timeouts};
use crate::tls::{client_config, normalize_pin, read_seen};

mod response;

pub(crate) use response::{MAX_RESPONSE, ReadFailure, read_late_response, read_response};

/// Document bytes are read and written in pieces of this size, whatever the document.
pub(super) const CHUNK: usize = 64 * 1024;

/// A connected byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Where an `ipp://` or `ipps://` URI points.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    pub uri: String,
    pub tls: bool,
    /// For connecting and for the TLS server name (IPv6 without brackets).
    pub host: String,
    /// For the Host header (IPv6 with brackets).
    pub authority: String,
    pub port: u16,
    pub path: String,
}

impl Endpoint {
    pub fn parse(uri: &str) -> Result<Self, ClientError> {
        let bad = |why: &str| ClientError::Unreachable(format!("{uri}: {why}"));
        let url = url::Url::parse(uri).map_err(|e| bad(&e.to_string()))?;
        let tls = match url.scheme() {
            "ipps" => true,
            "ipp" => false,
            _ => return Err(bad("not an ipp:// or ipps:// URI")),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(bad("no host")),
        };
        let port = url.port().unwrap_or(631);
        let authority = format!("{}:{port}", url.host_str().unwrap_or(&host));
        let path = if url.path().is_empty() {
            "/".to_owned()
        } else {
            url.path().to_owned()
        };
        Ok(Self {
            uri: uri.to_owned(),
            tls,
            host,
            authority,
            port,
            path,
        })
    }
}

/// The stream and, over TLS, the fingerprint of the certificate the printer showed.
pub(super) type Opened = (Box<dyn Io>, Option<String>);

/// TCP (and TLS) to the endpoint. Nothing of a request is sent.
pub(super) async fn open(
    endpoint: &Endpoint,
    pin: Option<&str>,
    timeouts: &Timeouts,
) -> Result<Opened, ClientError> {
    let target = (endpoint.host.as_str(), endpoint.port);
    let tcp = tokio::time::timeout(timeouts.connect, TcpStream::connect(target))
        .await
        .map_err(|_| {
            ClientError::Unreachable(format!(
                "{}:{}: no connection within {:?}",
                endpoint.host, endpoint.port, timeouts.connect
            ))
        })?
        .map_err(|e| {
            ClientError::Unreachable(format!("{}:{}: {e}", endpoint.host, endpoint.port))
        })?;
    // Small IPP requests and answers must not wait for Nagle.
    let _ = tcp.set_nodelay(true);
    if !endpoint.tls {
        return Ok((Box::new(tcp), None));
    }
    let (config, observed) = client_config(pin);
    let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone())
        .map_err(|e| ClientError::Unreachable(format!("{}: {e}", endpoint.host)))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = tokio::time::timeout(timeouts.handshake, connector.connect(name, tcp)).await;
    let seen = read_seen(&observed);
    match handshake {
        Ok(Ok(tls)) => Ok((Box::new(tls), seen)),
        Ok(Err(e)) => match (pin, seen) {
            (Some(pin), Some(got)) if normalize_pin(pin) != got => {
                Err(ClientError::CertificateChanged {
                    expected: normalize_pin(pin),
                    got,
                })
            }
            _ => Err(ClientError::Unreachable(format!(
                "TLS handshake with {} failed: {e}",
                endpoint.authority
            ))),
        },
        Err(_) => Err(ClientError::Unreachable(format!(
            "no TLS handshake with {} within {:?}",
            endpoint.authority, timeouts.handshake
        ))),
    }
}

/// Words for an I/O failure once a request was under way.
pub(super) fn describe(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe => "connection reset".into(),
        UnexpectedEof => "connection closed".into(),
        _ => e.to_string(),
    }
}

/// Writes all of `buf` or fails; `timeout` bounds each write, so a printer that stops
/// reading is noticed even while the document is long.
pub(super) async fn write_all(
    io: &mut (dyn Io + '_),
    buf: &[u8],
    timeout: Duration,
) -> Result<(), String> {
    match tokio::time::timeout(timeout, io.write_all(buf)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err(format!("the printer stopped reading for {timeout:?}")),
    }
}

/// Fills `buf` from `reader` (up to its length) unless the stream ends first, and
/// returns how much it holds (less than its length only at the end). Document sources
/// may return small reads, but chunks on the wire should be full; raw 9100 delivery
/// (`release::push`) sends its pieces the same way.
pub async fn fill(
    reader: &mut (dyn AsyncRead + Send + Unpin + '_),
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// The request line and headers. A document means chunked transfer: its size is not
/// known in advance and it must not be buffered to learn it.
pub(super) fn request_head(endpoint: &Endpoint, content_length: Option<usize>) -> String {
    let length = match content_length {
        Some(n) => format!("Content-Length: {n}\r\n"),
        None => "Transfer-Encoding: chunked\r\n".to_owned(),
    };
    format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/ipp\r\nUser-Agent: PrintPark/{}\r\nConnection: close\r\n{length}\r\n",
        endpoint.path,
        endpoint.authority,
        env!("CARGO_PKG_VERSION")
    )
}
