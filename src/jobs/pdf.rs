//! The full PDF parse (pages from the page tree, colour from the page contents) with
//! `lopdf`, which has crashed on hostile files and can overflow its stack: it never
//! runs in the server process. A small pool of analyser processes (this binary,
//! `printpark analyse-pdf`, with an address-space limit and no core dumps) takes one
//! document at a time over a pipe; a crash, a hang or a blown limit costs only that
//! worker, and the job is parked with what the streaming scan saw and a warning.
//!
//! Protocol on the worker's stdin/stdout, per document: the parent writes the length
//! (8 bytes, big-endian) and the plaintext; the worker answers one line,
//! `pages=<n|?> color=<yes|no|?>`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Mutex, Semaphore};

mod colour;

/// Largest PDF given to the full parse; larger ones keep the streaming count. The
/// worker holds the whole document, so this bounds its memory (measured: a 128 MiB
/// PDF took 135 MiB in the worker).
pub const MAX_PARSE_BYTES: u64 = 32 * 1024 * 1024;
/// A worker's address space: the document, lopdf's objects, decoded page contents.
const WORKER_ADDRESS_SPACE: u64 = 1024 * 1024 * 1024;
/// How long one document may take, from first byte sent to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
/// A worker is replaced after this many documents (bounds leaks and fragmentation).
const DOCUMENTS_PER_WORKER: u32 = 500;

/// What the full parse found; `None` where it could not tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PdfFacts {
    pub pages: Option<i64>,
    pub color: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum PdfAnalysisError {
    #[error("the PDF analyser could not start: {0}")]
    Start(String),
    #[error("the PDF analyser took longer than {0:?}")]
    Timeout(Duration),
    #[error("the PDF analyser stopped on this document (crash or limit)")]
    Died,
    #[error("the document could not be read back: {0}")]
    Source(String),
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    served: u32,
}

/// The pool of analyser processes.
#[derive(Clone)]
pub struct PdfAnalyser {
    exe: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Worker>>>,
    slots: Arc<Semaphore>,
}

impl std::fmt::Debug for PdfAnalyser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfAnalyser")
            .field("exe", &self.exe)
            .finish()
    }
}

impl PdfAnalyser {
    /// `exe` is the printpark binary (this program when `None`).
    pub fn new(exe: Option<PathBuf>) -> Self {
        let exe = exe
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("printpark"));
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 4);
        Self {
            exe: Arc::new(exe),
            idle: Arc::new(Mutex::new(Vec::new())),
            slots: Arc::new(Semaphore::new(workers)),
        }
    }

    fn spawn(&self) -> Result<Worker, PdfAnalysisError> {
        let mut child = Command::new(self.exe.as_ref())
            .arg("analyse-pdf")
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| PdfAnalysisError::Start(format!("{}: {e}", self.exe.display())))?;
        let stdin = child.stdin.take().ok_or(PdfAnalysisError::Died)?;
        let stdout = BufReader::new(child.stdout.take().ok_or(PdfAnalysisError::Died)?);
        Ok(Worker {
            child,
            stdin,
            stdout,
            served: 0,
        })
    }

    /// Parses one sealed PDF of `size` plaintext bytes.
    pub async fn analyse(&self, size: u64, document: Sealed) -> Result<PdfFacts, PdfAnalysisError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| PdfAnalysisError::Died)?;
        let worker = self.idle.lock().await.pop();
        let mut worker = match worker {
            Some(w) => w,
            None => self.spawn()?,
        };
        let outcome = tokio::time::timeout(ANSWER_TIMEOUT, exchange(&mut worker, size, document))
            .await
            .unwrap_or(Err(PdfAnalysisError::Timeout(ANSWER_TIMEOUT)));
        worker.served += 1;
        match outcome {
            Ok(facts) if worker.served < DOCUMENTS_PER_WORKER => {
                self.idle.lock().await.push(worker);
                Ok(facts)
            }
            Ok(facts) => Ok(facts),
            Err(e) => {
                // The worker is in an unknown state: it goes (kill_on_drop).
                let _ = worker.child.start_kill();
                Err(e)
            }
        }
    }
}

type Sealed = crate::vault::SealedReader<Box<dyn AsyncRead + Unpin + Send>>;

async fn exchange(
    worker: &mut Worker,
    size: u64,
    mut document: Sealed,
) -> Result<PdfFacts, PdfAnalysisError> {
    worker
        .stdin
        .write_all(&size.to_be_bytes())
        .await
        .map_err(|_| PdfAnalysisError::Died)?;
    let sent = document
        .copy_to(&mut worker.stdin)
        .await
        .map_err(|e| match e {
            crate::vault::VaultError::Sink(_) => PdfAnalysisError::Died,
            other => PdfAnalysisError::Source(other.to_string()),
        })?;
    if sent != size {
        return Err(PdfAnalysisError::Source(format!("{sent} of {size} bytes")));
    }
    worker
        .stdin
        .flush()
        .await
        .map_err(|_| PdfAnalysisError::Died)?;
    let mut line = String::new();
    let n = worker
        .stdout
        .read_line(&mut line)
        .await
        .map_err(|_| PdfAnalysisError::Died)?;
    if n == 0 {
        return Err(PdfAnalysisError::Died);
    }
    Ok(parse_answer(&line))
}

fn parse_answer(line: &str) -> PdfFacts {
    let mut facts = PdfFacts::default();
    for field in line.split_whitespace() {
        match field.split_once('=') {
            Some(("pages", n)) => facts.pages = n.parse().ok().filter(|n: &i64| *n > 0),
            Some(("color", "yes")) => facts.color = Some(true),
            Some(("color", "no")) => facts.color = Some(false),
            _ => {}
        }
    }
    facts
}

// --- the worker side --------------------------------------------------------------------

/// `printpark analyse-pdf`: limits itself, then answers documents until stdin closes.
pub fn worker_main() -> std::process::ExitCode {
    if !limit_self() {
        return std::process::ExitCode::FAILURE;
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    loop {
        let mut len = [0u8; 8];
        if input.read_exact(&mut len).is_err() {
            return std::process::ExitCode::SUCCESS;
        }
        let len = u64::from_be_bytes(len);
        if len > MAX_PARSE_BYTES {
            return std::process::ExitCode::FAILURE;
        }
        let mut document = Vec::new();
        if (&mut input)
            .take(len)
            .read_to_end(&mut document)
            .map(|n| n as u64)
            .ok()
            != Some(len)
        {
            return std::process::ExitCode::FAILURE;
        }
        let facts = analyse_pdf(&document);
        drop(document);
        let pages = facts.pages.map_or("?".to_owned(), |n| n.to_string());
        let color = match facts.color {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        if writeln!(out, "pages={pages} color={color}")
            .and_then(|()| out.flush())
            .is_err()
        {
            return std::process::ExitCode::FAILURE;
        }
    }
}

/// Address space and core dumps (stack overflow aborts; no core of a document).
/// Whether both limits hold: set here, or already as strict (a hard limit below ours
/// cannot be raised, and need not be). A worker whose limits do not hold answers no
/// document: the parser never runs unbounded, the analysis says "unknown" instead.
fn limit_self() -> bool {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let holds = |resource: Resource, value: u64| {
        let wanted = Rlimit {
            current: Some(value),
            maximum: Some(value),
        };
        setrlimit(resource, wanted).is_ok()
            || getrlimit(resource).maximum.is_some_and(|max| max <= value)
    };
    holds(Resource::As, WORKER_ADDRESS_SPACE) && holds(Resource::Core, 0)
}

/// Pages from the page tree; colour from what the pages paint (see colour.rs).
pub fn analyse_pdf(bytes: &[u8]) -> PdfFacts {
    let pages = lopdf::Document::load_metadata_mem(bytes)
        .ok()
        .map(|m| i64::from(m.page_count))
        .filter(|n| *n > 0);
    let Ok(doc) = lopdf::Document::load_mem(bytes) else {
        return PdfFacts { pages, color: None };
    };
    // The page tree as a printer walks it, over the catalogue's /Count.
    let walked = i64::try_from(doc.get_pages().len()).ok().filter(|n| *n > 0);
    PdfFacts {
        pages: walked.or(pages),
        color: colour::document_uses_color(&doc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_unknowns_stay_unknown() {
        assert_eq!(
            parse_answer("pages=3 color=no\n"),
            PdfFacts {
                pages: Some(3),
                color: Some(false)
            }
        );
        assert_eq!(parse_answer("pages=? color=?\n"), PdfFacts::default());
        assert_eq!(parse_answer("garbage"), PdfFacts::default());
    }
}
