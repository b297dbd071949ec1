//! The server side of a conversion: starts a `printpark convert` worker, streams the
//! plaintext into it and hands out the converted bytes as an `AsyncRead` once the first
//! page is converted.
//!
//! One worker per conversion (its limits and its memory end with it), at most
//! [`concurrency`] at once. The document goes in and the output comes out at the
//! same time ([`session`]), so neither is ever whole in the server. A worker that
//! says nothing for the stall limit (60 s), or works longer than the total limit
//! (10 min of its own time, not counting time the printer takes to read), is killed
//! with everything it started (its process group).

mod session;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{Semaphore, mpsc};

use super::protocol::Job;
use super::{ConvertError, Format, Spec};
use session::Event;

/// The plaintext of a document, streamed from the vault (or an agent's spool).
pub type Input = Box<dyn AsyncRead + Send + Unpin>;

/// A worker that sends nothing for this long is killed.
pub const STALL_LIMIT: Duration = Duration::from_secs(60);
/// A conversion's own time (waiting for the worker) at most.
pub const TOTAL_LIMIT: Duration = Duration::from_secs(600);

/// Conversions at once: one per core (at least 1, at most 4). Each runs Ghostscript
/// flat out on one core; more would only share the cores and the memory.
pub fn concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 4)
}

/// The time limits of one conversion.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest silence of the worker.
    pub stall: Duration,
    /// Longest total time spent waiting for the worker.
    pub total: Duration,
}

/// Starts conversions in worker processes; cheap to clone.
#[derive(Debug, Clone)]
pub struct Converter {
    exe: PathBuf,
    slots: Arc<Semaphore>,
    limits: Limits,
}

impl Converter {
    /// `exe` is the printpark binary (this program when `None`), as for the PDF
    /// analyser (`queue.analyser_exe`).
    pub fn new(exe: Option<PathBuf>) -> Self {
        let exe = exe
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("printpark"));
        Self {
            exe,
            slots: Arc::new(Semaphore::new(concurrency())),
            limits: Limits {
                stall: STALL_LIMIT,
                total: TOTAL_LIMIT,
            },
        }
    }

    /// Other time limits (tests, the agent).
    pub fn with_limits(mut self, stall: Duration, total: Duration) -> Self {
        self.limits = Limits { stall, total };
        self
    }

    /// Whether conversions can run here (the renderer is installed); the reason when not.
    /// Ghostscript is asked once per process (`gs --version`).
    pub fn check(&self) -> Result<(), ConvertError> {
        static GS: OnceLock<Result<String, String>> = OnceLock::new();
        if !self.exe.exists() && self.exe.components().count() > 1 {
            return Err(ConvertError::Unavailable(format!(
                "{} does not exist",
                self.exe.display()
            )));
        }
        GS.get_or_init(|| {
            let out = std::process::Command::new("gs")
                .arg("--version")
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("Ghostscript (gs) is not installed ({e})"))?;
            if !out.status.success() {
                return Err("Ghostscript (gs --version) failed".into());
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .as_ref()
        .map(|_| ())
        .map_err(|e| ConvertError::Unavailable(e.clone()))
    }

    /// Starts converting `input` as `spec` says. Returns once the first page is
    /// converted (or the conversion failed before it: then nothing was handed out).
    pub async fn start(&self, spec: &Spec, input: Input) -> Result<Converted, ConvertError> {
        if !spec.from.is_input() || !spec.to.is_output() {
            return Err(ConvertError::Unsupported(format!(
                "PrintPark cannot convert {} into {}",
                spec.from.label(),
                spec.to.label()
            )));
        }
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ConvertError::Unavailable("shutting down".into()))?;
        let pages = Arc::new(AtomicU32::new(0));
        let mut running = session::Session::start(
            &self.exe,
            &Job::Convert(spec.clone()),
            input,
            self.limits,
            pages.clone(),
        )?;
        let mut held = Vec::new();
        let mut finished = false;
        loop {
            match running.events.recv().await {
                Some(Event::Go) => break,
                Some(Event::Data(bytes)) => held.push(bytes),
                Some(Event::End(_)) => {
                    finished = true;
                    break;
                }
                Some(Event::Failed(e)) => return Err(e),
                Some(Event::Count(_)) => {}
                None => return Err(ConvertError::Died),
            }
        }
        held.reverse();
        Ok(Converted {
            events: running.events,
            held,
            current: Vec::new(),
            at: 0,
            finished,
            pages,
            _session: running.guard,
            _permit: permit,
        })
    }

    /// Counts the pages of a document (for outputs with one page per document).
    pub async fn count_pages(&self, from: Format, input: Input) -> Result<u32, ConvertError> {
        if !from.is_input() {
            return Err(ConvertError::Unsupported(format!(
                "PrintPark cannot read {}",
                from.label()
            )));
        }
        let _permit = self
            .slots
            .acquire()
            .await
            .map_err(|_| ConvertError::Unavailable("shutting down".into()))?;
        let mut running = session::Session::start(
            &self.exe,
            &Job::Count(from),
            input,
            self.limits,
            Arc::new(AtomicU32::new(0)),
        )?;
        loop {
            match running.events.recv().await {
                Some(Event::Count(n)) => return Ok(n),
                Some(Event::Failed(e)) => return Err(e),
                Some(_) => {}
                None => return Err(ConvertError::Died),
            }
        }
    }
}

/// A conversion under way: its output, read as it is made. A failure after the first
/// page reads as an `io::Error` whose inner error is a [`ConvertError`]. Dropping it
/// stops the conversion.
pub struct Converted {
    events: mpsc::Receiver<Event>,
    /// Output that came before the go-ahead (last chunk first).
    held: Vec<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    finished: bool,
    pages: Arc<AtomicU32>,
    _session: session::Guard,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Converted {
    /// Pages converted so far.
    pub fn pages(&self) -> u32 {
        self.pages.load(Ordering::Relaxed)
    }
}

impl AsyncRead for Converted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.at < this.current.len() {
                let n = buf.remaining().min(this.current.len() - this.at);
                buf.put_slice(&this.current[this.at..this.at + n]);
                this.at += n;
                return Poll::Ready(Ok(()));
            }
            if let Some(next) = this.held.pop() {
                this.current = next;
                this.at = 0;
                continue;
            }
            if this.finished {
                return Poll::Ready(Ok(()));
            }
            match std::task::ready!(this.events.poll_recv(cx)) {
                Some(Event::Data(bytes)) => {
                    this.current = bytes;
                    this.at = 0;
                }
                Some(Event::End(_)) => this.finished = true,
                Some(Event::Failed(e)) => {
                    this.finished = true;
                    return Poll::Ready(Err(std::io::Error::other(e)));
                }
                Some(Event::Go | Event::Count(_)) => {}
                None => {
                    this.finished = true;
                    return Poll::Ready(Err(std::io::Error::other(ConvertError::Died)));
                }
            }
        }
    }
}
