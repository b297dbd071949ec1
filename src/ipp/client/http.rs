//! Just enough HTTP/1.1 for IPP: one POST per connection, the document streamed as
//! chunks, the answer read with a size cap. No general HTTP client is used because
//! none lets us count the bytes that left (the push layer must know whether anything
//! reached the printer) or time each write separately from the whole request.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tls::{client_config, read_observed};
use super::{ClientError, Timeouts};

/// Document bytes are read and written in pieces of this size, whatever the document.
pub(super) const CHUNK: usize = 64 * 1024;
/// An IPP answer carries attributes only; a printer's full description stays far below.
pub(super) const MAX_RESPONSE: usize = 8 * 1024 * 1024;
/// A head larger than this is not an HTTP answer.
const MAX_HEAD: usize = 64 * 1024;
/// After a failed write the printer may already have answered (a refusal before the
/// whole document arrived): how long to look for that answer.
const LATE_ANSWER: Duration = Duration::from_secs(2);

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
    let seen = read_observed(&observed);
    match handshake {
        Ok(Ok(tls)) => Ok((Box::new(tls), seen)),
        Ok(Err(e)) => match (pin, seen) {
            (Some(pin), Some(got)) if super::tls::normalize_pin(pin) != got => {
                Err(ClientError::CertificateChanged {
                    expected: super::tls::normalize_pin(pin),
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

/// Fills `buf` from `reader` (up to its length) unless the stream ends first; the
/// document source may return small reads, but chunks on the wire should be full.
pub(super) async fn fill(
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

/// Why reading an answer failed.
pub(crate) enum ReadFailure {
    /// The connection broke or stayed silent.
    Io(String),
    /// Bytes arrived that are not an HTTP answer.
    Malformed(String),
}

/// Reads the answer: skips interim 1xx heads, returns the final status and the body.
pub(crate) async fn read_response(
    io: &mut (dyn Io + '_),
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ReadFailure> {
    match tokio::time::timeout(timeout, read_response_inner(io)).await {
        Ok(result) => result,
        Err(_) => Err(ReadFailure::Io(format!("no answer within {timeout:?}"))),
    }
}

/// Like `read_response`, briefly, after a write failed: a refusal the printer sent
/// before closing is still a definitive answer.
pub(super) async fn read_late_response(io: &mut (dyn Io + '_)) -> Option<(u16, Vec<u8>)> {
    read_response(io, LATE_ANSWER).await.ok()
}

struct Reader<'a> {
    io: &'a mut (dyn Io + 'a),
    buf: Vec<u8>,
}

impl Reader<'_> {
    /// Reads more; false at the end of the stream.
    async fn more(&mut self) -> Result<bool, ReadFailure> {
        let mut chunk = [0u8; 8192];
        let n = self
            .io
            .read(&mut chunk)
            .await
            .map_err(|e| ReadFailure::Io(describe(&e)))?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    async fn until(&mut self, delimiter: &[u8], cap: usize) -> Result<Vec<u8>, ReadFailure> {
        loop {
            if let Some(at) = find(&self.buf, delimiter) {
                let line = self.buf[..at].to_vec();
                self.buf.drain(..at + delimiter.len());
                return Ok(line);
            }
            if self.buf.len() > cap {
                return Err(ReadFailure::Malformed("an HTTP line is too long".into()));
            }
            if !self.more().await? {
                return Err(ReadFailure::Io("connection closed".into()));
            }
        }
    }

    async fn take(&mut self, n: usize) -> Result<Vec<u8>, ReadFailure> {
        while self.buf.len() < n {
            if !self.more().await? {
                return Err(ReadFailure::Io(
                    "connection closed inside the answer".into(),
                ));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn read_response_inner(io: &mut (dyn Io + '_)) -> Result<(u16, Vec<u8>), ReadFailure> {
    let mut r = Reader {
        io,
        buf: Vec::new(),
    };
    loop {
        if r.buf.is_empty() && !r.more().await? {
            return Err(ReadFailure::Io(
                "the printer closed the connection without an answer".into(),
            ));
        }
        let head = r.until(b"\r\n\r\n", MAX_HEAD).await?;
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let code = parse_status_line(status_line)?;
        if (100..200).contains(&code) {
            continue;
        }
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let chunked =
            header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let body = if chunked {
            read_chunked(&mut r).await?
        } else if let Some(length) = header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| ReadFailure::Malformed(format!("Content-Length {length:?}")))?;
            if length > MAX_RESPONSE {
                return Err(ReadFailure::Malformed(format!(
                    "an answer of {length} bytes"
                )));
            }
            r.take(length).await?
        } else {
            // No length: the body ends with the connection.
            while r.more().await? {
                if r.buf.len() > MAX_RESPONSE {
                    return Err(ReadFailure::Malformed("the answer is too large".into()));
                }
            }
            std::mem::take(&mut r.buf)
        };
        return Ok((code, body));
    }
}

fn parse_status_line(line: &str) -> Result<u16, ReadFailure> {
    let mut parts = line.split(' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(code) if version.starts_with("HTTP/1.") => Ok(code),
        _ => Err(ReadFailure::Malformed(format!(
            "not an HTTP status line: {:?}",
            line.chars().take(60).collect::<String>()
        ))),
    }
}

async fn read_chunked(r: &mut Reader<'_>) -> Result<Vec<u8>, ReadFailure> {
    let mut body = Vec::new();
    loop {
        let line = r.until(b"\r\n", 1024).await?;
        let line = String::from_utf8_lossy(&line);
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| ReadFailure::Malformed(format!("chunk size {size:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !r.until(b"\r\n", MAX_HEAD).await?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_RESPONSE {
            return Err(ReadFailure::Malformed("the answer is too large".into()));
        }
        body.extend(r.take(size).await?);
        if r.take(2).await? != b"\r\n" {
            return Err(ReadFailure::Malformed(
                "a chunk does not end with CRLF".into(),
            ));
        }
    }
}
