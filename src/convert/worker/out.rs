//! The worker's stdout, shared by the threads that relay Ghostscript's output and
//! watch its messages. Data is held back until [`Out::go`]: nothing reaches the
//! server (and so the printer) before the first page rendered.

use std::sync::Mutex;

use crate::convert::protocol::{self, Frame};

/// Largest output held back before the first page is done (one page of raster at
/// most; more means the renderer is misbehaving).
const MAX_HELD: usize = 512 * 1024 * 1024;

pub struct Out {
    state: Mutex<State>,
}

struct State {
    /// Output before `Go`; `None` once it went.
    held: Option<Vec<u8>>,
    /// The server is gone (a write failed): stop writing.
    broken: bool,
}

impl Out {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                held: Some(Vec::new()),
                broken: false,
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // A poisoned lock means a relay thread panicked; its state is still usable.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }

    fn write(state: &mut State, frame: &Frame) {
        if state.broken {
            return;
        }
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        if protocol::write_frame(&mut lock, frame).is_err() {
            state.broken = true;
        }
    }

    /// Sends any frame but data.
    pub fn frame(&self, frame: &Frame) {
        self.with(|s| Self::write(s, frame));
    }

    /// Output bytes: held before `Go`, sent in chunks after. `false` when the held
    /// output grew past its cap.
    pub fn data(&self, bytes: &[u8]) -> bool {
        self.with(|s| {
            if let Some(held) = &mut s.held {
                if held.len().saturating_add(bytes.len()) > MAX_HELD {
                    return false;
                }
                held.extend_from_slice(bytes);
                return true;
            }
            for chunk in bytes.chunks(protocol::CHUNK) {
                Self::write(s, &Frame::Data(chunk.to_vec()));
            }
            true
        })
    }

    /// From now on output goes out; what was held goes first. Idempotent.
    pub fn go(&self) {
        self.with(|s| {
            if let Some(held) = s.held.take() {
                Self::write(s, &Frame::Go);
                for chunk in held.chunks(protocol::CHUNK) {
                    Self::write(s, &Frame::Data(chunk.to_vec()));
                }
            }
        });
    }

    /// The server went away.
    pub fn broken(&self) -> bool {
        self.with(|s| s.broken)
    }

    /// The conversion failed: what was held is dropped, the error frame sent.
    pub fn fail(&self, page: Option<u32>, reason: &str) {
        self.with(|s| {
            s.held = None;
            Self::write(
                s,
                &Frame::Error {
                    page,
                    reason: reason.to_owned(),
                },
            );
        });
    }
}
