//! The server side of a conversion: starts a `printpark convert` worker, streams the
//! plaintext into it and hands out the converted bytes as an `AsyncRead` once the first
//! page is converted. (CONTRACT for issue 17's helpers: the signatures are fixed; the
//! bodies are being written in the convert-core branch.)

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::{ConvertError, Format, Spec};

/// The plaintext of a document, streamed from the vault (or an agent's spool).
pub type Input = Box<dyn AsyncRead + Send + Unpin>;

/// Starts conversions in worker processes; cheap to clone.
#[derive(Debug, Clone)]
pub struct Converter {
    exe: PathBuf,
}

impl Converter {
    /// `exe` is the printpark binary (this program when `None`), as for the PDF
    /// analyser (`queue.analyser_exe`).
    pub fn new(exe: Option<PathBuf>) -> Self {
        let exe = exe
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("printpark"));
        Self { exe }
    }

    /// Whether conversions can run here (the renderer is installed); the reason when not.
    pub fn check(&self) -> Result<(), ConvertError> {
        Err(ConvertError::Unavailable(format!(
            "{} (not built yet)",
            self.exe.display()
        )))
    }

    /// Starts converting `input` as `spec` says. Returns once the first page is
    /// converted (or the conversion failed before it: then nothing was handed out).
    pub async fn start(&self, spec: &Spec, input: Input) -> Result<Converted, ConvertError> {
        let _ = (spec, input);
        Err(ConvertError::Unavailable("not built yet".into()))
    }

    /// Counts the pages of a document (for outputs with one page per document).
    pub async fn count_pages(&self, from: Format, input: Input) -> Result<u32, ConvertError> {
        let _ = (from, input);
        Err(ConvertError::Unavailable("not built yet".into()))
    }
}

/// A conversion under way: its output, read as it is made. A failure after the first
/// page reads as an `io::Error` whose inner error is a [`ConvertError`].
pub struct Converted {
    _private: (),
}

impl Converted {
    /// Pages converted so far.
    pub fn pages(&self) -> u32 {
        0
    }
}

impl AsyncRead for Converted {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
