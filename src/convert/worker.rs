//! `printpark convert`: the worker process that runs the renderer, one conversion per
//! process, started by [`super::Converter`] (protocol in [`super::protocol`]).
//!
//! In order: limit itself (memory, processor time, file sizes, no core dumps, no
//! network; [`sandbox`]), read the header and the document into an anonymous
//! in-memory file ([`input`]), turn images and rasters into a PDF ([`normalise`]),
//! then run Ghostscript on `/proc/self/fd/N` ([`render`]) and relay its output in
//! frames ([`out`]). Ghostscript inherits the limits. Nothing is written to disk but
//! Ghostscript's own temporary files, in a private directory in RAM (`/dev/shm`).

mod count;
mod gs;
mod images;
mod input;
mod media;
mod normalise;
mod out;
mod pdf;
mod raster;
mod render;
mod sandbox;

use std::io::BufRead;
use std::process::ExitCode;

use super::protocol::{self, Frame, Job};

pub use render::PRIVATE_DIR_PREFIX;

/// Where the worker's private directory for Ghostscript's temporary files lives: RAM.
pub const PRIVATE_DIR_BASE: &str = "/dev/shm";

/// Largest document the worker takes in (the default `queue.max_job_mib`; a larger
/// job fails with a clear reason rather than filling RAM).
pub const MAX_INPUT: u64 = 512 * 1024 * 1024;

/// Entry point of `printpark convert` (no settings, no runtime, no logging: notes
/// for the server's log go to stderr, frames to stdout).
pub fn worker_main() -> ExitCode {
    // First, while the process has one thread (a new user namespace needs that).
    for note in sandbox::enter() {
        eprintln!("sandbox: {note}");
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let out = out::Out::new();
    let job = match read_header(&mut input) {
        Ok(job) => job,
        Err(reason) => {
            out.fail(None, &reason);
            return ExitCode::FAILURE;
        }
    };
    let document = match input::receive(&mut input, MAX_INPUT) {
        Ok(file) => file,
        Err(reason) => {
            out.fail(None, &reason);
            return ExitCode::FAILURE;
        }
    };
    drop(input);
    let outcome = match job {
        Job::Count(from) => count::pages(from, document).map(|n| out.frame(&Frame::Count(n))),
        Job::Convert(spec) => normalise::to_renderable(spec.from, document)
            .and_then(|source| render::run(&spec, source, &out)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            out.fail(failure.page, &failure.reason);
            ExitCode::FAILURE
        }
    }
}

/// Why a conversion failed, for the error frame.
#[derive(Debug)]
pub(crate) struct Failure {
    pub page: Option<u32>,
    pub reason: String,
}

impl Failure {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            page: None,
            reason: reason.into(),
        }
    }
}

fn read_header(input: &mut impl BufRead) -> Result<Job, String> {
    let mut line = Vec::new();
    let mut limited = std::io::Read::take(&mut *input, protocol::MAX_HEADER as u64);
    limited
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("reading the header: {e}"))?;
    if line.last() != Some(&b'\n') {
        return Err("no header".into());
    }
    let line = String::from_utf8(line).map_err(|_| "header is not text".to_owned())?;
    protocol::decode_header(&line)
}
