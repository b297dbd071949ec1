//! Runs Ghostscript on the (normalised) document and relays what it makes: rendered
//! bytes from its stdout as data, its stderr read for the page it is on and, on
//! failure, the reason ("page 3 could not be rendered: …").

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::Failure;
use super::gs::{self, Output, PAGE_DONE};
use super::input::MemFile;
use super::out::Out;
use crate::convert::protocol::{self, Frame};
use crate::convert::{Format, Spec};

/// A document Ghostscript reads, in an in-memory file.
pub struct Source {
    pub file: MemFile,
    /// PDF (the interpreter says `Page N`); else PostScript.
    pub pdf: bool,
}

/// Lines of Ghostscript's messages kept for a failure's reason.
const KEPT_LINES: usize = 30;

pub fn run(spec: &Spec, source: Source, out: &Out) -> Result<(), Failure> {
    if !spec.to.is_output() {
        return Err(Failure::new(format!(
            "{} is not an output format",
            spec.to.label()
        )));
    }
    let tmp = PrivateDir::new()?;
    let at_end = matches!(spec.to, Format::Pdf | Format::PostScript);
    let out_file = tmp.path.join("output");
    let out_name = out_file.to_string_lossy().into_owned();
    let output = if at_end {
        Output::File(&out_name)
    } else {
        Output::Stdout
    };
    // Raster headers say how many pages follow (some AirPrint printers want URF's
    // count); the page tree says, for a PDF. PostScript's is only known at its end.
    let pages = (matches!(spec.to, Format::PwgRaster | Format::Urf) && source.pdf)
        .then(|| super::count::pdf_pages(&source.file).ok())
        .flatten()
        .map(|total| gs::selected(spec, total));
    let mut command = Command::new("gs");
    command
        .args(gs::args(spec, &source.file.path(), output, pages))
        .env_clear()
        .env("TMPDIR", &tmp.path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let mut child = command
        .spawn()
        .map_err(|e| Failure::new(format!("Ghostscript (gs) could not start: {e}")))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        return Err(Failure::new("Ghostscript's pipes could not be made"));
    };
    let streaming = !gs::written_at_end(spec.to);
    let (status, relayed, watch) = std::thread::scope(|scope| {
        let relay = scope.spawn(|| relay(stdout, out));
        let watcher = scope.spawn(|| watch(stderr, source.pdf, streaming, out));
        let status = child.wait();
        let relayed = relay.join().unwrap_or(Err("relay stopped".into()));
        let watch = watcher.join().unwrap_or_default();
        (status, relayed, watch)
    });
    let status = status.map_err(|e| Failure::new(format!("Ghostscript: {e}")))?;
    let page = if source.pdf {
        watch.started.filter(|s| Some(*s) != watch.last_done)
    } else {
        watch.done.checked_add(1)
    };
    if !status.success() {
        let reason = match status.signal() {
            Some(24) => "it took more processor time than allowed".to_owned(),
            Some(25) => "its temporary files grew larger than allowed".to_owned(),
            Some(signal) => {
                format!("the renderer stopped (signal {signal}: a crash or the memory limit)")
            }
            None => watch.reason(),
        };
        return Err(Failure { page, reason });
    }
    let bytes = relayed.map_err(|reason| Failure { page, reason })?;
    let mut total = bytes;
    if at_end {
        out.go();
        let mut file = std::fs::File::open(&out_file)
            .map_err(|e| Failure::new(format!("Ghostscript's output: {e}")))?;
        let mut buf = vec![0u8; protocol::CHUNK];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| Failure::new(format!("Ghostscript's output: {e}")))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            out.data(&buf[..n]);
        }
    }
    if total == 0 {
        return Err(Failure::new(
            "there was no page to print (the page ranges select none of the document's pages)",
        ));
    }
    out.go();
    out.frame(&Frame::End(watch.done));
    Ok(())
}

/// Copies Ghostscript's stdout into data frames; the byte count. On an error the
/// pipe closes, which stops Ghostscript.
fn relay(mut stdout: impl Read, out: &Out) -> Result<u64, String> {
    let mut buf = vec![0u8; protocol::CHUNK];
    let mut total = 0u64;
    loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the renderer's output: {e}")),
        };
        total += n as u64;
        if !out.data(&buf[..n]) {
            return Err("the first page's output is larger than the converter holds".into());
        }
        if out.broken() {
            return Err("the server stopped reading".into());
        }
    }
}

/// What Ghostscript said.
#[derive(Debug, Default)]
struct Watch {
    /// The document page the PDF interpreter last started.
    started: Option<u32>,
    last_done: Option<u32>,
    /// Pages output so far.
    done: u32,
    /// Messages that may explain a failure (bounded).
    lines: Vec<String>,
}

impl Watch {
    /// The failure's reason: gs's error lines, the first few.
    fn reason(&self) -> String {
        let errors: Vec<&str> = self
            .lines
            .iter()
            .map(String::as_str)
            .filter(|l| l.contains("rror") || l.contains("VMerror"))
            .collect();
        let chosen: Vec<&str> = if errors.is_empty() {
            let skip = self.lines.len().saturating_sub(3);
            self.lines.iter().skip(skip).map(String::as_str).collect()
        } else {
            errors.into_iter().take(3).collect()
        };
        if chosen.is_empty() {
            return "Ghostscript failed without saying why".into();
        }
        let text = chosen.join("; ");
        if text.contains("VMerror") {
            return format!("it needs more memory than allowed ({text})");
        }
        text
    }
}

/// Reads Ghostscript's messages: page starts (PDF), page ends (our hook), the rest
/// kept for a failure's reason. The first finished page lets a streamed output go.
fn watch(stderr: impl Read, pdf: bool, streaming: bool, out: &Out) -> Watch {
    let mut w = Watch::default();
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        // A document may print anything here (PostScript's `print`): one line is read
        // at most 4 KiB at a time and only its start kept.
        match (&mut reader).take(4096).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return w,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text == PAGE_DONE {
            w.done += 1;
            let page = if pdf {
                w.started.unwrap_or(w.done)
            } else {
                w.done
            };
            w.last_done = Some(page);
            out.frame(&Frame::PageDone(page));
            if streaming && w.done == 1 {
                out.go();
            }
        } else if let Some(n) = text
            .strip_prefix("Page ")
            .and_then(|n| n.parse::<u32>().ok())
            && pdf
        {
            w.started = Some(n);
            out.frame(&Frame::PageStarted(n));
        } else if !boring(text) {
            if w.lines.len() == KEPT_LINES {
                w.lines.remove(0);
            }
            let text = text.trim_start_matches('*').trim();
            w.lines.push(text.chars().take(300).collect());
        }
    }
}

/// Messages that never explain a failure.
fn boring(text: &str) -> bool {
    text.is_empty()
        || [
            "INFO:",
            "GPL Ghostscript",
            "Copyright",
            "This software",
            "see the file",
            "Loading ",
            "Processing pages",
            "Querying operating system",
            "Last OS error",
            "Current allocation mode",
            "Can't find (or can't open) font",
            "Didn't find this font",
            "Substituting font",
        ]
        .iter()
        .any(|p| text.starts_with(p))
}

/// A 0700 directory in RAM for Ghostscript's temporary files (pdfwrite and ps2write
/// keep the document's pages there); removed with everything in it when dropped.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn new() -> Result<Self, Failure> {
        let base = if std::path::Path::new(super::PRIVATE_DIR_BASE).is_dir() {
            PathBuf::from(super::PRIVATE_DIR_BASE)
        } else {
            std::env::temp_dir()
        };
        sweep_stale(&base);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = base.join(format!(
            "{PRIVATE_DIR_PREFIX}{}-{nanos}",
            std::process::id()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| Failure::new(format!("no private temporary directory ({e})")))?;
        Ok(Self { path })
    }
}

/// The private directories' names: this prefix, the worker's process id, a number.
pub const PRIVATE_DIR_PREFIX: &str = "printpark-convert-";

/// Removes the private directories of workers that are gone (killed before they could
/// clean up; the server removes them too when it kills one).
fn sweep_stale(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix(PRIVATE_DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
