//! Admission and pacing of connections on the public listener: caps on open connections
//! per source address and in total (checked when a connection is accepted, before its
//! TLS handshake), a time-out for the handshake, and a time-out for every request head
//! on a connection (actix-http times only a connection's first request; a client that
//! trickles the head of its second request one byte at a time would hold the
//! connection for ever).
//!
//! actix-web's `HttpServer` only caps connections per worker and cannot refuse by
//! address, so `web::serve_on` builds the listener from actix-server and actix-http
//! (what `HttpServer` does inside) with [`ConnectionLimits`] in front.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The open-connection caps, shared by every worker of one listener.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    counts: Arc<Mutex<Counts>>,
    max_total: u32,
    max_per_address: u32,
}

#[derive(Debug, Default)]
struct Counts {
    total: u32,
    per_address: HashMap<IpAddr, u32>,
}

/// Why a connection was closed at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    PerAddress,
    Total,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::PerAddress => "per_address",
            Refusal::Total => "total",
        }
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Permit {
    counts: Arc<Mutex<Counts>>,
    address: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_address.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_address.remove(&self.address);
            }
        }
    }
}

/// The key one source counts under: an IPv4 address (also when mapped into IPv6), or
/// an IPv6 /64 — one subscriber usually has a whole /64 to pick addresses from.
fn source_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl ConnectionLimits {
    pub fn new(max_total: u32, max_per_address: u32) -> Self {
        Self {
            counts: Arc::default(),
            max_total,
            max_per_address,
        }
    }

    /// A place for one more connection from `address`, or why there is none.
    pub fn admit(&self, address: IpAddr) -> Result<Permit, Refusal> {
        let address = source_key(address);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let from_here = counts.per_address.entry(address).or_insert(0);
        if *from_here >= self.max_per_address {
            return Err(Refusal::PerAddress);
        }
        *from_here += 1;
        counts.total += 1;
        Ok(Permit {
            counts: self.counts.clone(),
            address,
        })
    }

    /// Counts and logs a refused connection (the log line at most once a minute per
    /// kind, so a flood does not flood the log too).
    pub fn note_refusal(&self, refusal: Refusal, address: IpAddr) {
        metrics::counter!("printpark_connections_refused_total", "cap" => refusal.label())
            .increment(1);
        static LAST: Mutex<Option<std::time::Instant>> = Mutex::new(None);
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
            *last = Some(std::time::Instant::now());
            tracing::warn!(%address, cap = refusal.label(), "connection refused: too many open connections (server.max_connections / server.max_connections_per_address)");
        }
    }
}

/// Whether a connection is inside a request (head received, answer not yet given).
/// Shared between the connection's I/O and the request middleware through the
/// connection's extensions.
#[derive(Debug, Default)]
pub struct RequestClock {
    in_request: AtomicBool,
    /// Requests the app has begun on this connection.
    begun: AtomicU64,
}

/// Marks the connection as inside a request from the moment the app takes it until
/// its response has been sent (the response body may still read the request's body,
/// e.g. to discard a refused document): bytes read meanwhile are not a next head.
pub async fn track_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<ClockedBody>, actix_web::Error> {
    let clock = req.request().conn_data::<Arc<RequestClock>>().cloned();
    if let Some(clock) = &clock {
        clock.in_request.store(true, Ordering::Release);
        clock.begun.fetch_add(1, Ordering::AcqRel);
    }
    let guard = RequestGuard(clock);
    let response = next.call(req).await?;
    Ok(response.map_body(move |_, body| ClockedBody {
        body: actix_web::body::BoxBody::new(body),
        _guard: guard,
    }))
}

/// Ends the request (for [`PacedIo`]) when dropped.
struct RequestGuard(Option<Arc<RequestClock>>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if let Some(clock) = &self.0 {
            clock.in_request.store(false, Ordering::Release);
        }
    }
}

/// A response body that keeps its request open until it is sent (or dropped).
pub struct ClockedBody {
    body: actix_web::body::BoxBody,
    _guard: RequestGuard,
}

impl MessageBody for ClockedBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> actix_web::body::BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<bytes::Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// The largest request head taken (actix-http alone allows 128 KiB): ample for cookies
/// and IPP clients, small enough that a head is never a memory lever.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Sent for a head over [`MAX_HEAD_BYTES`], before the connection is closed.
const HEAD_TOO_LARGE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\ncontent-length: 39\r\nconnection: close\r\n\r\nThe request head is larger than 32 KiB\n";

/// Sent when a head did not arrive in time, before the connection is closed.
const HEAD_TOO_SLOW: &[u8] = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 40\r\nconnection: close\r\n\r\nThe request head did not arrive in time\n";

/// How long a refused connection's further bytes are read and dropped before it is
/// closed (closing with unread bytes would reset it and could lose the refusal).
const LINGER: Duration = Duration::from_secs(1);

/// A connection's byte stream with its permit, the request-head deadline and size
/// cap: once a byte of a new request arrives, its head must be complete within
/// `head_timeout` and [`MAX_HEAD_BYTES`].
pub struct PacedIo<T> {
    io: T,
    clock: Arc<RequestClock>,
    head_timeout: Duration,
    /// Where the connection is between requests.
    phase: Phase,
    /// Until the first byte of the first request: a connection that completes TLS and
    /// then says nothing holds a place only this long (`head_timeout`). Between
    /// requests of a kept-alive connection the idle limit is `keep_alive_secs`
    /// instead: ipptool and CUPS keep a connection open for minutes between requests.
    first_byte: Option<Pin<Box<Sleep>>>,
    /// Set once the head was refused as too large: the refusal's unsent rest, and
    /// when to stop lingering.
    refusing: Option<(&'static [u8], Pin<Box<Sleep>>)>,
    _permit: Permit,
}

enum Phase {
    /// No byte of a next request yet.
    Idle,
    /// A head is arriving.
    Head(HeadProgress),
    /// The head ended (`CRLF CRLF` passed); what follows is its body, until the app
    /// has begun and finished request number `begun + 1`.
    Request { begun: u64 },
}

struct HeadProgress {
    deadline: Pin<Box<Sleep>>,
    bytes: usize,
    /// The last bytes seen, for an end of head split between reads.
    tail: [u8; 3],
    /// The server wrote since the head began: the connection is not only reading a
    /// head (a response is still going out), so no refusal is written into it.
    wrote: bool,
}

impl HeadProgress {
    /// Takes the next bytes of the head; the offset just past its end, if they hold it.
    fn take(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut window = self.tail;
        for (i, b) in bytes.iter().enumerate() {
            if window == *b"\r\n\r" && *b == b'\n' {
                self.bytes = self.bytes.saturating_add(i + 1);
                return Some(i + 1);
            }
            window = [window[1], window[2], *b];
        }
        self.tail = window;
        self.bytes = self.bytes.saturating_add(bytes.len());
        None
    }
}

impl<T> PacedIo<T> {
    pub fn new(io: T, permit: Permit, head_timeout: Duration) -> Self {
        Self {
            io,
            clock: Arc::default(),
            head_timeout,
            phase: Phase::Idle,
            first_byte: Some(Box::pin(tokio::time::sleep(head_timeout))),
            refusing: None,
            _permit: permit,
        }
    }

    /// For the connection's extensions (see [`track_request`]).
    pub fn clock(&self) -> Arc<RequestClock> {
        self.clock.clone()
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> PacedIo<T> {
    /// Writes the refusal (431 or 408), then reads and drops what the client still sends until
    /// it stops or [`LINGER`] passes; then the connection ends (with an error, so the
    /// HTTP dispatcher drops it).
    fn poll_refusal(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let refused = || io::Error::new(io::ErrorKind::InvalidData, "request head refused");
        let Some((unsent, linger)) = self.refusing.as_mut() else {
            return Poll::Ready(Err(refused()));
        };
        while !unsent.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, unsent) {
                Poll::Ready(Ok(n)) if n > 0 => *unsent = &unsent[n..],
                Poll::Pending => return Poll::Pending,
                _ => return Poll::Ready(Err(refused())),
            }
        }
        if Pin::new(&mut self.io).poll_flush(cx).is_pending() {
            return Poll::Pending;
        }
        let mut scratch = [0u8; 8192];
        loop {
            if linger.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(refused()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => continue,
                Poll::Pending => return Poll::Pending,
                _ => return Poll::Ready(Err(refused())),
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for PacedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusing.is_some() {
            return this.poll_refusal(cx);
        }
        if let Phase::Request { begun } = this.phase
            && this.clock.begun.load(Ordering::Acquire) > begun
            && !this.clock.in_request.load(Ordering::Acquire)
        {
            this.phase = Phase::Idle;
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let fresh = &buf.filled()[before..];
                if !fresh.is_empty() {
                    this.first_byte = None;
                }
                if fresh.is_empty() || matches!(this.phase, Phase::Request { .. }) {
                    return Poll::Ready(Ok(()));
                }
                if matches!(this.phase, Phase::Idle) {
                    this.phase = Phase::Head(HeadProgress {
                        deadline: Box::pin(tokio::time::sleep_until(
                            Instant::now() + this.head_timeout,
                        )),
                        bytes: 0,
                        tail: [0; 3],
                        wrote: false,
                    });
                }
                if let Phase::Head(head) = &mut this.phase {
                    let ended = head.take(fresh).is_some();
                    if head.bytes > MAX_HEAD_BYTES && !head.wrote {
                        this.refusing =
                            Some((HEAD_TOO_LARGE, Box::pin(tokio::time::sleep(LINGER))));
                        metrics::counter!("printpark_requests_refused_total", "reason" => "head_too_large").increment(1);
                        return this.poll_refusal(cx);
                    }
                    if ended {
                        this.phase = Phase::Request {
                            begun: this.clock.begun.load(Ordering::Acquire),
                        };
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if let Some(first) = this.first_byte.as_mut()
                    && first.as_mut().poll(cx).is_ready()
                {
                    // Nothing was asked: close without an answer.
                    this.refusing = Some((b"", Box::pin(tokio::time::sleep(LINGER))));
                    metrics::counter!("printpark_requests_refused_total", "reason" => "silent_connection").increment(1);
                    return this.poll_refusal(cx);
                }
                if let Phase::Head(head) = &mut this.phase
                    && head.deadline.as_mut().poll(cx).is_ready()
                {
                    // Answered only when nothing else is being written on the connection.
                    let answer: &'static [u8] = if head.wrote { b"" } else { HEAD_TOO_SLOW };
                    this.refusing = Some((answer, Box::pin(tokio::time::sleep(LINGER))));
                    metrics::counter!("printpark_requests_refused_total", "reason" => "head_too_slow").increment(1);
                    return this.poll_refusal(cx);
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for PacedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Phase::Head(head) = &mut this.phase {
            head.wrote = true;
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Phase::Head(head) = &mut this.phase {
            head.wrote = true;
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_in_total() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let p1 = limits.admit(a).unwrap();
        let _p2 = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refusal::PerAddress);
        let _p3 = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).unwrap_err(), Refusal::Total);
        drop(p1);
        assert!(limits.admit(a).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_source() {
        let limits = ConnectionLimits::new(10, 1);
        let _p = limits.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert!(limits.admit("2001:db8::ffff:2".parse().unwrap()).is_err());
        assert!(limits.admit("2001:db8:0:1::1".parse().unwrap()).is_ok());
        let _q = limits.admit("192.0.2.9".parse().unwrap()).unwrap();
        assert!(limits.admit("::ffff:192.0.2.9".parse().unwrap()).is_err());
    }
}

/// What a new connection's first byte says it speaks (issue 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstByte {
    /// 0x16: a TLS handshake record.
    Tls,
    /// Anything else: plain HTTP (someone typed `http://` with the TLS port).
    Plain,
    /// Closed, or silent past the time-out.
    Nothing,
}

/// Looks at the first byte without taking it (the TLS acceptor reads it again).
pub async fn first_byte(tcp: &tokio::net::TcpStream, within: Duration) -> FirstByte {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(within, tcp.peek(&mut byte)).await {
        Ok(Ok(1..)) if byte[0] == 0x16 => FirstByte::Tls,
        Ok(Ok(1..)) => FirstByte::Plain,
        _ => FirstByte::Nothing,
    }
}

/// Largest plain-HTTP head read before answering the redirect.
const PLAIN_HEAD_BYTES: usize = 8 * 1024;

/// Answers a plain-HTTP request on the TLS port with a redirect to the same host and
/// path over `https://` (301 for GET and HEAD, 308 otherwise so a POST stays a POST),
/// then closes. The head must arrive within `within`; the Host header is used only
/// when it is a plain host[:port] (anything else falls back to the listener's address).
pub async fn redirect_to_https(
    mut tcp: tokio::net::TcpStream,
    within: Duration,
    fallback_host: &str,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < PLAIN_HEAD_BYTES {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let timed_out = tokio::time::timeout(within, read).await.is_err();
    if timed_out || head.is_empty() {
        return;
    }
    let answer = redirect_answer(&head, fallback_host);
    let _ = tokio::time::timeout(within, async {
        let _ = tcp.write_all(answer.as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}

/// The redirect for a plain-HTTP head (pure, for the unit test).
fn redirect_answer(head: &[u8], fallback_host: &str) -> String {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    // Origin-form paths only, of visible ASCII (no header injection through the path).
    let path = if target.starts_with('/') && target.bytes().all(|b| b.is_ascii_graphic()) {
        target
    } else {
        "/"
    };
    let host = lines
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("host")
                .then(|| value.trim())
        })
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })
        .unwrap_or(fallback_host);
    let status = if matches!(method, "GET" | "HEAD") {
        "301 Moved Permanently"
    } else {
        "308 Permanent Redirect"
    };
    let location = format!("https://{host}{path}");
    let body = format!("This port speaks HTTPS: {location}\n");
    format!(
        "HTTP/1.1 {status}\r\nLocation: {location}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod redirect_tests {
    use super::redirect_answer;

    #[test]
    fn plain_http_is_sent_to_https_with_its_host_and_path() {
        let answer = redirect_answer(
            b"GET /admin/printers?x=1 HTTP/1.1\r\nHost: print.example:8443\r\n\r\n",
            "127.0.0.1:8443",
        );
        assert!(answer.starts_with("HTTP/1.1 301 "), "{answer}");
        assert!(answer.contains("\r\nLocation: https://print.example:8443/admin/printers?x=1\r\n"));
        let post = redirect_answer(b"POST /ipp/print HTTP/1.1\r\nhost: p\r\n\r\n", "h:1");
        assert!(
            post.starts_with("HTTP/1.1 308 ") && post.contains("Location: https://p/ipp/print\r\n")
        );
        // A hostile Host or target falls back to safe values.
        let odd = redirect_answer(b"GET http://evil/ HTTP/1.1\r\nHost: a\rb\r\n\r\n", "h:1");
        assert!(odd.contains("Location: https://h:1/\r\n"), "{odd}");
    }
}
