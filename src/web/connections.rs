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
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

mod paced;

pub use paced::{ClockedBody, MAX_HEAD_BYTES, PacedIo, RequestClock, track_request};

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

/// A request body that must keep arriving: a pause longer than `idle` (nothing at all
/// from the client) ends it with a `TimedOut` error, so a client that stops mid-body
/// does not hold a handler (and a half-received document) for ever.
pub struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    /// The clock starts when the handler first reads, not when the request came.
    started: bool,
}

impl<S> IdleTimeout<S> {
    pub fn new(inner: S, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            started: false,
        }
    }
}

/// The error an [`IdleTimeout`] body ends with.
pub fn body_idle_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the client stopped sending the request body",
    )
}

impl<S, E> futures_util::Stream for IdleTimeout<S>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = io::Result<bytes::Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.started {
            this.started = true;
            let idle = this.idle;
            this.deadline.as_mut().reset(Instant::now() + idle);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(item) => {
                let idle = this.idle;
                this.deadline.as_mut().reset(Instant::now() + idle);
                Poll::Ready(item.map(|r| r.map_err(|e| io::Error::other(e.to_string()))))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(body_idle_error()))),
                Poll::Pending => Poll::Pending,
            },
        }
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
