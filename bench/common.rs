//! Helpers shared by the benches (each bench is a crate of its own, `harness = false`,
//! and includes this file with `#[path = "common.rs"] mod common;`): the `printpark`
//! child processes, readings from /proc, the machine's load, and figures.
//!
//! Not every bench uses every helper, hence `#[allow(dead_code)]` on the includes.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;

use printpark::identity::{ClientInfo, NewUserRequest, User};
use printpark::jobs::{ColorMode, Compression, Sides, Submission};
use printpark::services::Services;

// ---------------------------------------------------------------------------------
// Child processes

/// A child process (`printpark serve`, `printpark agent`): stopped (TERM, then KILL
/// after `grace`) when dropped, also on panic.
pub struct Process {
    pub name: &'static str,
    pub child: Child,
    pub log: PathBuf,
    /// How long a SIGTERM may take, when dropped, before SIGKILL.
    pub grace: Duration,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn log_tail(&self) -> String {
        let lines = self.log_lines();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// SIGTERM; how long it took to exit and how, or `None` when it had to be killed
    /// after `grace` (or had exited already).
    pub fn terminate(&mut self, grace: Duration) -> Option<(Duration, ExitStatus)> {
        if self.exited().is_some() {
            return None;
        }
        let started = Instant::now();
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        while started.elapsed() < grace {
            if let Some(status) = self.exited() {
                return Some((started.elapsed(), status));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "{} did not stop on SIGTERM within {grace:?}: killing it",
            self.name
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.terminate(self.grace);
    }
}

/// `printpark` with no `PRINTPARK_*` from our environment, logging at warn in text.
pub fn printpark_command(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_printpark"));
    cmd.current_dir(cwd);
    for (key, _) in std::env::vars() {
        if key.starts_with("PRINTPARK_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PRINTPARK_LOG__LEVEL", "warn")
        .env("PRINTPARK_LOG__FORMAT", "text")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

pub fn insecure_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .build()
        .expect("client")
}

/// `printpark serve` on the data dir `dir/data` (prepared beforehand through the
/// library), listening on 127.0.0.1:`port`, its log in `dir/serve.log`; returns once
/// `/healthz` answers 200. `name` is what errors and the drop call it; `grace` how
/// long it may take to stop when dropped.
pub async fn start_server(
    dir: &Path,
    port: u16,
    max_held: u32,
    name: &'static str,
    grace: Duration,
) -> Result<Process, String> {
    let log = dir.join("serve.log");
    let child = printpark_command(dir)
        .env("PRINTPARK_DATA_DIR", dir.join("data"))
        .env("PRINTPARK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        // As for the library that parked the jobs (only parking checks it).
        .env("PRINTPARK_QUEUE__MAX_HELD_PER_USER", max_held.to_string())
        // A benchmark server does not announce itself on the network.
        .env("PRINTPARK_DNSSD__ENABLED", "false")
        .arg("serve")
        .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("printpark serve: {e}"))?;
    let mut server = Process {
        name,
        child,
        log,
        grace,
    };
    let http = insecure_client();
    let started = Instant::now();
    loop {
        if let Some(status) = server.exited() {
            return Err(format!("{name} exited ({status}):\n{}", server.log_tail()));
        }
        if let Ok(r) = http
            .get(format!("https://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status() == 200
        {
            return Ok(server);
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "{name} not healthy after 60 s:\n{}",
                server.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

// ---------------------------------------------------------------------------------
// /proc

pub fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets VmHWM to the current RSS; false where the kernel does not allow it.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

pub fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Fields after the command name in /proc/PID/stat (index 0 = state, field 3).
pub fn stat_fields(pid: Option<u32>) -> Vec<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".into(),
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Some(after) = text.rfind(')').map(|i| &text[i + 2..]) else {
        return Vec::new();
    };
    after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect()
}

/// User + system CPU seconds of a process (`None`: this one), with the children it
/// has reaped when `reaped` (the server's `analyse-pdf` children; none in the benches
/// that park nothing through the server).
pub fn cpu_secs(pid: Option<u32>, reaped: bool) -> f64 {
    let f = stat_fields(pid);
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0);
    let mut ticks = at(11) + at(12);
    if reaped {
        ticks += at(13) + at(14);
    }
    ticks / clock_ticks()
}

/// CPU seconds used so far by every process on the machine: pid → (seconds, is a
/// kernel thread).
pub fn all_processes_cpu() -> HashMap<u32, (f64, bool)> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let f = stat_fields(Some(pid));
        if f.len() < 13 {
            continue;
        }
        let kernel_thread = pid == 2 || f[1] == 2.0;
        out.insert(pid, ((f[11] + f[12]) / clock_ticks(), kernel_thread));
    }
    out
}

/// CPU seconds other processes (not kernel threads) used between two snapshots,
/// leaving out ours (the processes under test and the bench).
pub fn others_cpu(
    before: &HashMap<u32, (f64, bool)>,
    after: &HashMap<u32, (f64, bool)>,
    ours: &[u32],
) -> f64 {
    after
        .iter()
        .filter(|(pid, (_, kthread))| !ours.contains(pid) && !kthread)
        .map(|(pid, (secs, _))| secs - before.get(pid).map(|b| b.0).unwrap_or(0.0))
        .sum::<f64>()
        .max(0.0)
}

/// Open sockets of a process (its TCP connections and listeners; database files are
/// not sockets).
pub fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .map(|l| l.to_string_lossy().starts_with("socket:"))
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------
// Setup through the library

/// The admin every bench's data dir has (`boss`), made through the library.
pub async fn create_admin(services: &Services, client: &ClientInfo) -> User {
    services
        .identity
        .create_user(
            None,
            &NewUserRequest {
                username: "boss".into(),
                email: "boss@example.org".into(),
                admin: true,
                password: Some("correct horse battery".into()),
                ..Default::default()
            },
            client,
        )
        .await
        .expect("admin")
}

/// A one-copy, one-sided PDF job from the portal, as the benches park them.
pub fn portal_pdf(name: &str) -> Submission<'_> {
    Submission {
        name,
        format: "application/pdf",
        copies: 1,
        sides: Sides::OneSided,
        source: "portal",
        compression: Compression::None,
        color_mode: ColorMode::Auto,
        accept: None,
        page_ranges: None,
    }
}

// ---------------------------------------------------------------------------------
// Documents

pub const MIB: u64 = 1024 * 1024;

/// Page 1 of the fixture `document-a4.pdf` (Ghostscript-made, 2 pages), cut with
/// Ghostscript as the fixtures were made; without Ghostscript a minimal 1-page PDF.
/// Returns the bytes and `cut` (how the bench describes the Ghostscript-cut page) or
/// the minimal PDF's description.
pub fn one_page_pdf(dir: &Path, cut: &'static str) -> (Bytes, &'static str) {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/documents/document-a4.pdf"
    );
    let out = dir.join("one-page.pdf");
    let made = Command::new("gs")
        .args(["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite"])
        .args(["-dFirstPage=1", "-dLastPage=1"])
        .arg(format!("-sOutputFile={}", out.display()))
        .arg(fixture)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if made && let Ok(bytes) = std::fs::read(&out) {
        return (Bytes::from(bytes), cut);
    }
    (
        Bytes::from(minimal_pdf()),
        "a minimal hand-made 1-page PDF (Ghostscript not found)",
    )
}

pub fn minimal_pdf() -> Vec<u8> {
    let content = "BT /F1 36 Tf 72 700 Td (PrintPark test page 1) Tj ET\n";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
         /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A PDF-looking document of exactly `size` bytes: a header, one stream object of
/// pseudo-random bytes (a 1 MiB block, repeated without copying), a trailer.
pub fn big_document(size: u64) -> impl Iterator<Item = Bytes> + Send {
    let mut block = vec![0u8; MIB as usize];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for b in block.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let block = Bytes::from(block);
    let suffix: &'static [u8] = b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    let head = |n: u64| {
        format!("%PDF-1.7\n%\u{e2}\u{e3}\u{cf}\u{d3}\n2 0 obj\n<< /Length {n} >>\nstream\n")
    };
    let mut stream_len = size - head(size).len() as u64 - suffix.len() as u64;
    if head(stream_len).len() != head(size).len() {
        stream_len = size - head(stream_len).len() as u64 - suffix.len() as u64;
    }
    let prefix = Bytes::from(head(stream_len));
    let mut left = stream_len;
    std::iter::once(prefix)
        .chain(std::iter::from_fn(move || {
            (left > 0).then(|| {
                let n = left.min(block.len() as u64) as usize;
                left -= n as u64;
                block.slice(..n)
            })
        }))
        .chain(std::iter::once(Bytes::from_static(suffix)))
}

// ---------------------------------------------------------------------------------
// The machine

/// Median time of a 4 KiB write + fsync in `dir`: one durable commit's floor.
pub fn fsync_ms(dir: &Path) -> f64 {
    let mut times = Vec::new();
    for i in 0..40 {
        let path = dir.join(format!("fsync-probe-{i}"));
        let started = Instant::now();
        let Ok(mut f) = std::fs::File::create(&path) else {
            return f64::NAN;
        };
        let _ = f.write_all(&[7u8; 4096]);
        let _ = f.sync_all();
        times.push(started.elapsed().as_secs_f64() * 1e3);
        let _ = std::fs::remove_file(&path);
    }
    percentile(&times, 50.0)
}

pub fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {cpu}")
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

// ---------------------------------------------------------------------------------
// Figures

pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[rank.min(v.len() - 1)]
}

pub fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1e3
}

pub fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "n/a".into())
}
