//! The worker's limits, set on itself before anything else and inherited by
//! Ghostscript (the crate forbids `unsafe`, so no `pre_exec` in the child: the limits
//! of this process are what the renderer gets).
//!
//! - Address space [`ADDRESS_SPACE`]: Ghostscript renders in bands (its `MaxBitmap`),
//!   so a 600 dpi colour page needs far less than a full page bitmap; 1.5 GiB leaves
//!   room for fonts, a big embedded image and our own decoders (images capped at
//!   [`super::raster::MAX_PIXELS_BYTES`]) while a decompression bomb stops here.
//! - Processor time [`CPU_SECONDS`]: the server's wall-clock limit kills first; this
//!   one holds if the server cannot.
//! - File size [`FILE_SIZE`]: bounds each temporary file Ghostscript writes (and our
//!   in-memory copies of the document; a write past it is refused).
//! - No core dumps: a crash must not leave the document on disk.
//! - No network: a new network namespace (as root), else a new user and network
//!   namespace; if neither is allowed, a note on stderr (the server logs it once).

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Address space of the worker and of Ghostscript (each).
pub const ADDRESS_SPACE: u64 = 1536 * 1024 * 1024;
/// Processor seconds of the worker and of Ghostscript (each).
pub const CPU_SECONDS: u64 = 600;
/// Largest file either writes (the in-memory document, Ghostscript's temporary files).
pub const FILE_SIZE: u64 = 1024 * 1024 * 1024;

/// Sets every limit; the notes say what could not be set.
pub fn enter() -> Vec<String> {
    let mut notes = Vec::new();
    for (resource, value, name) in [
        (Resource::As, ADDRESS_SPACE, "address space"),
        (Resource::Cpu, CPU_SECONDS, "processor time"),
        (Resource::Fsize, FILE_SIZE, "file size"),
        (Resource::Core, 0, "core dumps"),
    ] {
        if !limit(resource, value) {
            notes.push(format!("the {name} limit could not be set"));
        }
    }
    if let Err(note) = no_network() {
        notes.push(note);
    }
    notes
}

/// Whether the limit holds: set here, or already as strict.
fn limit(resource: Resource, value: u64) -> bool {
    let wanted = Rlimit {
        current: Some(value),
        maximum: Some(value),
    };
    setrlimit(resource, wanted).is_ok()
        || getrlimit(resource).maximum.is_some_and(|max| max <= value)
}

/// A network namespace of our own: only a loopback that is down, so neither this
/// process nor Ghostscript can reach anything.
fn no_network() -> Result<(), String> {
    use rustix::thread::UnshareFlags;
    // `unshare` is deprecated in favour of an unsafe version because CLONE_FILES can
    // pull file descriptors from under other threads; these flags touch no file
    // table, and the process has one thread here.
    #[allow(deprecated)]
    let unshare = rustix::thread::unshare;
    if unshare(UnshareFlags::NEWNET).is_ok() {
        return Ok(());
    }
    unshare(UnshareFlags::NEWUSER | UnshareFlags::NEWNET).map_err(|e| {
        format!(
            "no network namespace could be made ({e}); the renderer runs with the host's network"
        )
    })?;
    // Without a mapping our user is "nobody" in the new namespace and cannot make
    // files (Ghostscript's temporary files): map it onto itself.
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    std::fs::write("/proc/self/setgroups", "deny")
        .and_then(|()| std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1")))
        .and_then(|()| std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1")))
        .map_err(|e| format!("the user namespace could not be mapped ({e})"))
}
