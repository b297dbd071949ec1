//! Hostile HTTP clients: raw TCP + TLS from a chosen loopback source address (the whole
//! of 127.0.0.0/8 reaches the server, so one test can be many "addresses"), byte by
//! byte writes, and readings of what came back.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use printpark::config::Settings;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::TestServer;

/// Short limits so each attack is decided in seconds.
pub fn quick_limits(s: &mut Settings, per_address: u32, total: u32) {
    s.server.request_head_timeout_secs = 2;
    s.server.body_idle_timeout_secs = 2;
    s.server.max_connections_per_address = per_address;
    s.server.max_connections = total;
}

pub fn server_addr(server: &TestServer) -> SocketAddr {
    server
        .base
        .trim_start_matches("https://")
        .parse()
        .expect("base is https://ip:port")
}

/// A TLS client that trusts exactly the server's certificate.
pub fn connector(server: &TestServer) -> TlsConnector {
    let (cert, _) = printpark::tls::certificate_paths(&server.services.settings);
    let pinned = printpark::tls::load_first_certificate(&cert).unwrap();
    TlsConnector::from(Arc::new(printpark::tls::pinned_client_config(pinned)))
}

/// A TCP connection to the server from `source` (any 127.x.y.z).
pub async fn tcp_from(source: Ipv4Addr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source.into(), 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A TLS connection from `source`; `Err` when the server refused or closed it.
pub async fn tls_from(
    server: &TestServer,
    connector: &TlsConnector,
    source: Ipv4Addr,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = tcp_from(source, server_addr(server)).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// What came back on a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP response with this status (the head, at least, arrived).
    Status(u16),
    /// Closed (or reset) without a response.
    Closed,
    /// Nothing within the wait.
    Silent,
}

/// Reads until a response head arrives, the connection ends, or `wait` passes.
pub async fn response_head<S: AsyncRead + Unpin>(stream: &mut S, wait: Duration) -> Outcome {
    let mut got = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                return;
            }
        }
    })
    .await;
    match status_of(&got) {
        Some(status) => Outcome::Status(status),
        None if read.is_err() => Outcome::Silent,
        None => Outcome::Closed,
    }
}

/// Everything the server sends until it closes (or `wait` passes: then `None`).
pub async fn read_to_close<S: AsyncRead + Unpin>(
    stream: &mut S,
    wait: Duration,
) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let done = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    done.ok().map(|_| got)
}

/// The status code of the first response in `bytes`.
pub fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(bytes.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// How many HTTP responses `bytes` holds (status lines at line starts).
pub fn responses_in(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("HTTP/1.1 ")
        .filter(|(i, _)| *i == 0 || text[..*i].ends_with('\n'))
        .count()
}

/// Writes `bytes` one at a time, `gap` apart, until done or the connection fails;
/// returns how many were written.
pub async fn trickle<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8], gap: Duration) -> usize {
    for (i, b) in bytes.iter().enumerate() {
        if stream.write_all(&[*b]).await.is_err() || stream.flush().await.is_err() {
            return i;
        }
        tokio::time::sleep(gap).await;
    }
    bytes.len()
}

/// A GET of `/healthz` with `Connection: close` through a fresh TLS connection from
/// `source`: its status, or `None` when refused.
pub async fn healthz_from(
    server: &TestServer,
    connector: &TlsConnector,
    source: Ipv4Addr,
) -> Option<u16> {
    let mut tls = tls_from(server, connector, source).await.ok()?;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    match response_head(&mut tls, Duration::from_secs(10)).await {
        Outcome::Status(s) => Some(s),
        _ => None,
    }
}

/// This process's resident memory in KiB (the server runs in-process).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Every file under the local blob store.
pub fn blob_files(server: &TestServer) -> Vec<std::path::PathBuf> {
    super::files_under(&server.services.settings.blob_dir())
}

/// The storage quota: MiB per user, pending jobs per user, documents per job.
pub fn quota(s: &mut Settings, mib: u64, pending: u32, documents: u32) {
    s.queue.max_user_mib = mib;
    s.queue.max_pending_per_user = pending;
    s.queue.max_documents_per_job = documents;
}

/// (bytes, jobs) the user holds against the quota.
pub async fn usage_of(server: &TestServer, who: &printpark::identity::User) -> (i64, i64) {
    server.services.jobs.usage_of(who).await.unwrap()
}
