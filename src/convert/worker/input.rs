//! The document, from the server's frames into an anonymous in-memory file (memfd):
//! the renderer needs a file it can seek in, and no clear copy may reach a disk.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;

use crate::convert::protocol;

/// An anonymous in-memory file, inheritable by Ghostscript (no close-on-exec), named
/// for Ghostscript by `/proc/self/fd/N`.
pub struct MemFile {
    pub file: File,
}

impl MemFile {
    pub fn new(name: &str) -> Result<Self, String> {
        let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::empty())
            .map_err(|e| format!("no in-memory file ({e})"))?;
        Ok(Self {
            file: File::from(fd),
        })
    }

    /// The path Ghostscript opens (its own inherited descriptor).
    pub fn path(&self) -> String {
        format!("/proc/self/fd/{}", self.file.as_raw_fd())
    }

    /// Reads from the start.
    pub fn rewind(&mut self) -> Result<(), String> {
        self.file
            .seek(SeekFrom::Start(0))
            .map(|_| ())
            .map_err(|e| format!("in-memory file: {e}"))
    }
}

/// Reads the document's frames into a new in-memory file, at most `cap` bytes.
pub fn receive(input: &mut impl Read, cap: u64) -> Result<MemFile, String> {
    let mut mem = MemFile::new("printpark-document")?;
    let mut buf = Vec::with_capacity(protocol::CHUNK);
    let mut total: u64 = 0;
    loop {
        match protocol::read_input_frame(input, &mut buf) {
            Ok(Some(())) => {}
            Ok(None) => break,
            Err(e) => return Err(format!("the document did not arrive whole ({e})")),
        }
        total = total.saturating_add(buf.len() as u64);
        if total > cap {
            return Err(format!(
                "the document is larger than the converter takes ({} MiB)",
                cap / (1024 * 1024)
            ));
        }
        mem.file
            .write_all(&buf)
            .map_err(|e| format!("in-memory file: {e}"))?;
    }
    mem.rewind()?;
    Ok(mem)
}
