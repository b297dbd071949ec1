//! The time-out of a request body that stops arriving: the public listener's pacing
//! (`connections.rs`) covers request heads; this covers the bodies that handlers read
//! (IPP documents, portal uploads).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

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
