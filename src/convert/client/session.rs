//! One worker process at work: the task that feeds it the document, the task that
//! reads its frames (and keeps the time limits), and the guard that kills the
//! worker and Ghostscript with it (one process group) when the conversion is dropped
//! or fails.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Input, Limits};
use crate::convert::ConvertError;
use crate::convert::protocol::{self, Frame, Job};

/// What the reader hands on.
#[derive(Debug)]
pub enum Event {
    Data(Vec<u8>),
    Go,
    /// The conversion is complete (pages output).
    End(#[allow(dead_code, reason = "the page count is for logs and a later use")] u32),
    Count(u32),
    Failed(ConvertError),
}

/// Data frames in flight between the worker and the printer (x 64 KiB): the worker
/// waits when the printer reads slowly, the server holds little.
const IN_FLIGHT: usize = 16;

pub struct Session {
    pub events: mpsc::Receiver<Event>,
    pub guard: Guard,
}

/// Stops everything when dropped, unless the worker already ended cleanly.
pub struct Guard {
    tasks: Vec<JoinHandle<()>>,
    group: Option<i32>,
    clean: Arc<AtomicBool>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if !self.clean.load(Ordering::Acquire) {
            kill_group(self.group);
        }
    }
}

/// Kills the worker and Ghostscript (the worker leads its own process group), and
/// removes the worker's private directory in RAM (Ghostscript's temporary files:
/// pages of the document) which a killed worker cannot remove itself. Called before
/// the worker is reaped, so its process id is not yet anyone else's.
fn kill_group(group: Option<i32>) {
    let Some(id) = group else {
        return;
    };
    if let Some(pid) = rustix::process::Pid::from_raw(id) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let prefix = format!("{}{id}-", crate::convert::worker::PRIVATE_DIR_PREFIX);
    let Ok(entries) = std::fs::read_dir(crate::convert::worker::PRIVATE_DIR_BASE) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Session {
    pub fn start(
        exe: &Path,
        job: &Job,
        input: Input,
        limits: Limits,
        pages: Arc<AtomicU32>,
    ) -> Result<Session, ConvertError> {
        let mut command = Command::new(exe);
        command
            .arg("convert")
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // Ghostscript is found on the server's PATH; nothing else is passed on.
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        let mut child = command
            .spawn()
            .map_err(|e| ConvertError::Unavailable(format!("{}: {e}", exe.display())))?;
        let group = child.id().and_then(|id| i32::try_from(id).ok());
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_group(group);
            return Err(ConvertError::Unavailable("the worker's pipes".into()));
        };
        let source_error = Arc::new(Mutex::new(None));
        let clean = Arc::new(AtomicBool::new(false));
        let (tx, events) = mpsc::channel(IN_FLIGHT);
        let feeder = tokio::spawn(feed(
            stdin,
            protocol::encode_header(job),
            input,
            source_error.clone(),
        ));
        let logger = tokio::spawn(log_notes(stderr));
        let reader = tokio::spawn(read(
            Reader {
                child,
                stdout,
                tx,
                limits,
                pages,
                source_error,
                clean: clean.clone(),
                group,
            },
            feeder,
        ));
        Ok(Session {
            events,
            guard: Guard {
                tasks: vec![reader, logger],
                group,
                clean,
            },
        })
    }
}

/// The header, then the document in frames, then the end marker.
async fn feed(
    mut stdin: ChildStdin,
    header: String,
    mut input: Input,
    source_error: Arc<Mutex<Option<ConvertError>>>,
) {
    if stdin.write_all(header.as_bytes()).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; protocol::CHUNK];
    loop {
        let n = match input.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                // The worker sees a cut document; the reader reports this instead.
                if let Ok(mut slot) = source_error.lock() {
                    *slot = Some(ConvertError::Source(e.to_string()));
                }
                return;
            }
        };
        let mut frame = Vec::with_capacity(4 + n);
        frame.extend_from_slice(&(n as u32).to_be_bytes());
        frame.extend_from_slice(&buf[..n]);
        // A worker that stopped reading has said why on its stdout.
        if stdin.write_all(&frame).await.is_err() || n == 0 {
            break;
        }
    }
    let _ = stdin.flush().await;
}

/// The worker's stderr carries only its own notes (never document bytes): the
/// sandbox's is logged once per process, others at debug level.
async fn log_notes(stderr: impl AsyncRead + Unpin) {
    static SANDBOX_NOTED: AtomicBool = AtomicBool::new(false);
    let mut lines = BufReader::new(stderr.take(64 * 1024)).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.starts_with("sandbox:") {
            if !SANDBOX_NOTED.swap(true, Ordering::Relaxed) {
                tracing::warn!(note = %line, "document converter runs with fewer limits");
            }
        } else {
            tracing::debug!(note = %line, "document converter");
        }
    }
}

struct Reader {
    child: Child,
    stdout: ChildStdout,
    tx: mpsc::Sender<Event>,
    limits: Limits,
    pages: Arc<AtomicU32>,
    source_error: Arc<Mutex<Option<ConvertError>>>,
    clean: Arc<AtomicBool>,
    group: Option<i32>,
}

impl Reader {
    /// The failure to report: the source's error first (the worker only saw a cut
    /// document).
    fn failure(&self, otherwise: ConvertError) -> ConvertError {
        self.source_error
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .unwrap_or(otherwise)
    }
}

/// Reads frames until the end, an error or a time-out; hands them on.
async fn read(mut r: Reader, feeder: JoinHandle<()>) {
    let mut waited = Duration::ZERO;
    let outcome = loop {
        let left = r.limits.total.saturating_sub(waited);
        let (limit, which) = if r.limits.stall < left {
            (r.limits.stall, r.limits.stall)
        } else {
            (left, r.limits.total)
        };
        let since = Instant::now();
        let frame = match tokio::time::timeout(limit, read_frame(&mut r.stdout)).await {
            // The document is still arriving (a big one from a slow store): the
            // worker reads it whole before it says anything, so its silence is no
            // stall; only the total limit applies. (No frame was begun: nothing is
            // lost by the cancelled read.)
            Err(_) if !feeder.is_finished() && which == r.limits.stall => {
                waited += since.elapsed();
                continue;
            }
            Err(_) => {
                kill_group(r.group);
                break Err(ConvertError::Timeout(which.as_secs()));
            }
            Ok(Err(())) => {
                // The worker closed its stdout without ending: it died.
                let _ = tokio::time::timeout(Duration::from_secs(5), r.child.wait()).await;
                break Err(r.failure(ConvertError::Died));
            }
            Ok(Ok(frame)) => frame,
        };
        waited += since.elapsed();
        let event = match frame {
            Frame::Data(bytes) => Event::Data(bytes),
            Frame::Go => Event::Go,
            Frame::PageStarted(_) => continue,
            Frame::PageDone(_) => {
                r.pages.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Frame::End(n) => break Ok(Event::End(n)),
            Frame::Count(n) => break Ok(Event::Count(n)),
            Frame::Error { page, reason } => {
                break Err(r.failure(ConvertError::Render { page, reason }));
            }
        };
        // The printer reads slowly: waiting here is not the worker's time.
        if r.tx.send(event).await.is_err() {
            // The conversion was dropped: its guard may not have killed the worker yet.
            kill_group(r.group);
            r.clean.store(true, Ordering::Release);
            return;
        }
    };
    feeder.abort();
    match outcome {
        Ok(last) => {
            // The worker exits by itself once it said the last word.
            let exited = tokio::time::timeout(Duration::from_secs(10), r.child.wait()).await;
            if matches!(exited, Ok(Ok(_))) {
                r.clean.store(true, Ordering::Release);
            } else {
                kill_group(r.group);
            }
            let _ = r.tx.send(last).await;
        }
        Err(e) => {
            kill_group(r.group);
            let _ = r.child.wait().await;
            r.clean.store(true, Ordering::Release);
            let _ = r.tx.send(Event::Failed(e)).await;
        }
    }
}

/// One frame; `Err` for the end of the pipe or anything malformed.
async fn read_frame(stdout: &mut ChildStdout) -> Result<Frame, ()> {
    let mut head = [0u8; 5];
    stdout.read_exact(&mut head).await.map_err(|_| ())?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > protocol::MAX_FRAME {
        return Err(());
    }
    let mut payload = vec![0u8; len];
    stdout.read_exact(&mut payload).await.map_err(|_| ())?;
    Frame::decode(head[0], payload).ok_or(())
}
