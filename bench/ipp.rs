//! IPP load against the real server, side by side with CUPS's `cupsd` in the same run.
//!
//! Run: `cargo bench --bench ipp` (about two minutes after the build; needs `cupsd`
//! and `lpadmin`, Debian `cups` + `cups-client`, else PrintPark runs alone). Options,
//! after `--`: `--seconds S` measured seconds per level (default 10), `--warmup S`
//! (2), `--levels 1,8,64`, `--big-mib N` size of the big job (1024), `--no-cupsd`,
//! `--password-auth` (one more PrintPark row at the end: Basic with the account
//! password instead of an app password, i.e. an Argon2id check per request).
//!
//! What it does:
//! - starts the `printpark` binary as its own process (temporary data dir, SQLite,
//!   local disk, its self-signed certificate, DNS-SD off; sealing at rest is always
//!   on), makes an admin and a user with `printpark admin create-user`, signs the user
//!   in to the portal once and makes an app password, which every IPP request then
//!   sends with HTTP Basic;
//! - starts a private `cupsd` (all its folders in a temporary dir, a free loopback
//!   port, its own self-signed certificate, no authentication) with one queue that
//!   holds every job (`lpadmin -p held -E -v file:///dev/null -o
//!   job-hold-until-default=indefinite`); the requests also ask
//!   `job-hold-until=indefinite`;
//! - both are reached over TLS (`https://…`, i.e. IPPS), with the same hand-encoded
//!   Print-Job requests carrying the same 1-page PDF;
//! - for 1, 8 and 64 concurrent clients (each its own reqwest client and keep-alive
//!   connection, closed loop), on fresh servers for each level (cupsd slows down as
//!   held jobs pile up): jobs/s, p50/p99 latency, failures, server CPU per job, server
//!   peak RSS, and the CPU other processes used meanwhile (a busy machine is
//!   reported); every answer must be HTTP 200, IPP successful-ok*, the same
//!   request-id and job-state pending-held, else it counts as a failure;
//! - one 1 GiB Print-Job streamed from a generated source (never held in memory) to
//!   fresh servers, with each server's resident memory before and its peak while
//!   receiving it.
//!
//! A server's figures cover its process and its child processes (PrintPark parses
//! PDFs in `printpark analyse-pdf` children). Peak RSS is VmHWM, reset before each
//! measurement by writing 5 to /proc/PID/clear_refs (Linux >= 4.0), summed over the
//! processes (an upper bound of their joint peak); RSS is also sampled every 50 ms as
//! a check. The bench client runs on the same cores as the servers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark that cannot go on stops with the reason"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;
use common::{
    MIB, all_processes_cpu, big_document, clock_ticks, cpu_secs, error_chain, free_port,
    one_page_pdf, proc_status_kib, reset_peak,
};

const USER: &str = "bench";
const PASSWORD: &str = "bench password 1";
/// IPP job-state pending-held.
const PENDING_HELD: i32 = 4;

// ---------------------------------------------------------------------------------
// Options

struct Options {
    seconds: f64,
    warmup: f64,
    levels: Vec<usize>,
    big_mib: u64,
    cupsd: bool,
    password_auth: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    Options {
        seconds: value("--seconds")
            .and_then(|s| s.parse().ok())
            .unwrap_or(10.0),
        warmup: value("--warmup")
            .and_then(|s| s.parse().ok())
            .unwrap_or(2.0),
        levels: value("--levels")
            .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![1, 8, 64]),
        big_mib: value("--big-mib")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1024),
        cupsd: !args.iter().any(|a| a == "--no-cupsd"),
        password_auth: args.iter().any(|a| a == "--password-auth"),
    }
}

// ---------------------------------------------------------------------------------
// Child processes and /proc

/// A server process: stopped (TERM, then KILL) when dropped, also on panic. The
/// servers stay in the bench's process group, so a Ctrl-C in the terminal stops them
/// too. cupsd starts no filters or backends while jobs are only held; PrintPark's
/// PDF analysers are its own children and end with it (their pipe closes).
struct Server {
    name: &'static str,
    child: Child,
    log: PathBuf,
    /// How long a SIGTERM may take before SIGKILL.
    grace: Duration,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let started = Instant::now();
        while started.elapsed() < self.grace {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.name != "cupsd" {
            eprintln!(
                "{} did not stop on SIGTERM within {:?}: killing it",
                self.name, self.grace
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process and all its descendants: PrintPark parses PDFs in child processes of
/// its own (`printpark analyse-pdf`), which count as the server.
fn process_tree(root: u32) -> Vec<u32> {
    let mut children: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let ppid = text
                .rfind(')')
                .and_then(|i| text[i + 2..].split_whitespace().nth(1))
                .and_then(|v| v.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        if let Some(kids) = children.get(&tree[i]) {
            tree.extend(kids);
        }
        i += 1;
    }
    tree
}

/// CPU seconds of a process tree: its live members, plus the children the root has
/// already reaped.
fn tree_cpu_secs(root: u32) -> f64 {
    let reaped = std::fs::read_to_string(format!("/proc/{root}/stat"))
        .ok()
        .and_then(|text| {
            let after = &text[text.rfind(')')? + 2..];
            let fields: Vec<f64> = after
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0.0))
                .collect();
            Some((fields.get(13)? + fields.get(14)?) / clock_ticks())
        })
        .unwrap_or(0.0);
    process_tree(root)
        .into_iter()
        .map(|pid| cpu_secs(Some(pid), false))
        .sum::<f64>()
        + reaped
}

/// A /proc/PID/status figure summed over a process tree (for VmHWM: an upper bound
/// of the tree's peak, as members may peak at different times).
fn tree_status_kib(root: u32, key: &str) -> Option<u64> {
    let root_value = proc_status_kib(root, key)?;
    Some(
        root_value
            + process_tree(root)
                .into_iter()
                .skip(1)
                .filter_map(|pid| proc_status_kib(pid, key))
                .sum::<u64>(),
    )
}

fn reset_tree_peak(root: u32) -> bool {
    process_tree(root)
        .into_iter()
        .filter(|&pid| !reset_peak(pid))
        .count()
        == 0
}

/// CPU seconds between two snapshots used by (other processes, kernel threads),
/// leaving out the given pids (the server under test and the bench itself).
fn others_cpu(
    before: &std::collections::HashMap<u32, (f64, bool)>,
    after: &std::collections::HashMap<u32, (f64, bool)>,
    ours: &[u32],
) -> (f64, f64) {
    let (mut others, mut kernel) = (0.0, 0.0);
    for (pid, (secs, kthread)) in after {
        if ours.contains(pid) {
            continue;
        }
        let used = secs - before.get(pid).map(|b| b.0).unwrap_or(0.0);
        if *kthread {
            kernel += used;
        } else {
            others += used;
        }
    }
    (others.max(0.0), kernel.max(0.0))
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    proc_status_kib(std::process::id(), "Uid:") == Some(0)
}

// ---------------------------------------------------------------------------------
// IPP on the wire (our own small encoder, independent of the server's codec)

fn push_attr(buf: &mut Vec<u8>, tag: u8, name: &str, value: &str) {
    buf.push(tag);
    buf.extend_from_slice(&(name.len() as u16).to_be_bytes());
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_be_bytes());
    buf.extend_from_slice(value.as_bytes());
}

/// A Print-Job request up to the end-of-attributes tag; the document follows.
fn print_job(request_id: u32, printer_uri: &str, job_name: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(&[2, 0]); // IPP/2.0
    buf.extend_from_slice(&0x0002u16.to_be_bytes()); // Print-Job
    buf.extend_from_slice(&request_id.to_be_bytes());
    buf.push(0x01); // operation-attributes-tag
    push_attr(&mut buf, 0x47, "attributes-charset", "utf-8");
    push_attr(&mut buf, 0x48, "attributes-natural-language", "en");
    push_attr(&mut buf, 0x45, "printer-uri", printer_uri);
    push_attr(&mut buf, 0x42, "requesting-user-name", USER);
    push_attr(&mut buf, 0x42, "job-name", job_name);
    push_attr(&mut buf, 0x49, "document-format", "application/pdf");
    buf.push(0x02); // job-attributes-tag
    push_attr(&mut buf, 0x44, "job-hold-until", "indefinite");
    buf.push(0x03); // end-of-attributes-tag
    buf
}

#[derive(Debug, Default)]
struct Answer {
    status: u16,
    request_id: u32,
    job_id: Option<i32>,
    job_state: Option<i32>,
    message: String,
}

fn parse_answer(body: &[u8]) -> Result<Answer, String> {
    if body.len() < 9 {
        return Err(format!("IPP answer of {} bytes", body.len()));
    }
    let mut answer = Answer {
        status: u16::from_be_bytes([body[2], body[3]]),
        request_id: u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
        ..Answer::default()
    };
    let mut i = 8;
    let mut name = String::new();
    loop {
        let tag = *body
            .get(i)
            .ok_or("IPP answer ends before end-of-attributes")?;
        i += 1;
        if tag == 0x03 {
            return Ok(answer);
        }
        if tag < 0x10 {
            continue; // next group
        }
        let take = |i: &mut usize| -> Result<&[u8], String> {
            let len = body
                .get(*i..*i + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
                .ok_or("truncated IPP answer")?;
            let value = body
                .get(*i + 2..*i + 2 + len)
                .ok_or("truncated IPP answer")?;
            *i += 2 + len;
            Ok(value)
        };
        let n = take(&mut i)?;
        if !n.is_empty() {
            name = String::from_utf8_lossy(n).into_owned();
        }
        let value = take(&mut i)?;
        let int = || {
            (value.len() == 4).then(|| i32::from_be_bytes([value[0], value[1], value[2], value[3]]))
        };
        match (name.as_str(), tag) {
            ("job-id", 0x21) => answer.job_id = int(),
            ("job-state", 0x23) => answer.job_state = int(),
            ("status-message", _) => answer.message = String::from_utf8_lossy(value).into_owned(),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------
// Targets and clients

struct Target {
    name: &'static str,
    url: String,
    printer_uri: String,
    auth: Option<(String, String)>,
    pid: u32,
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .http1_only()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(timeout)
        .build()
        .expect("client")
}

/// One Print-Job; Ok(job id) only for HTTP 200, IPP successful-ok*, the right
/// request-id and a job that is held.
async fn submit(
    client: &reqwest::Client,
    target: &Target,
    body: reqwest::Body,
    request_id: u32,
) -> Result<i32, String> {
    let mut request = client
        .post(&target.url)
        .header(reqwest::header::CONTENT_TYPE, "application/ipp")
        .body(body);
    if let Some((user, secret)) = &target.auth {
        request = request.basic_auth(user, Some(secret));
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("transport: {}", error_chain(&e)))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading the answer: {}", error_chain(&e)))?;
    if status != reqwest::StatusCode::OK {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        return Err(format!("HTTP {status}: {}", text.trim()));
    }
    let answer = parse_answer(&bytes)?;
    if answer.request_id != request_id {
        return Err(format!(
            "request-id {} answered as {}",
            request_id, answer.request_id
        ));
    }
    if answer.status >= 0x0100 {
        return Err(format!(
            "IPP status 0x{:04x} {}",
            answer.status, answer.message
        ));
    }
    if answer.job_state != Some(PENDING_HELD) {
        return Err(format!("job not held: job-state {:?}", answer.job_state));
    }
    answer
        .job_id
        .ok_or_else(|| "no job-id in the answer".into())
}

fn small_body(target: &Target, request_id: u32, name: &str, document: &Bytes) -> reqwest::Body {
    let mut body = print_job(request_id, &target.printer_uri, name);
    body.extend_from_slice(document);
    reqwest::Body::from(body)
}

// ---------------------------------------------------------------------------------
// Load levels

struct Level {
    ok: usize,
    /// Successful jobs including warm-up and connection set-up (all are held now).
    all_ok: usize,
    failed: usize,
    first_error: Option<String>,
    secs: f64,
    latencies: Vec<Duration>,
    server_cpu: f64,
    client_cpu: f64,
    /// CPU seconds used by other processes on the machine during the window.
    other_cpu: f64,
    /// CPU seconds of kernel threads (writeback, journaling…) during the window.
    kernel_cpu: f64,
    /// The server's RSS at the end of the level, and its number of processes.
    rss_end_kib: Option<u64>,
    processes_end: usize,
    peak_kib: Option<u64>,
}

impl Level {
    fn jobs_per_sec(&self) -> f64 {
        self.ok as f64 / self.secs
    }
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1e3
    }
    fn cpu_ms_per_job(&self) -> f64 {
        1e3 * self.server_cpu / self.ok.max(1) as f64
    }
}

struct ClientResult {
    latencies: Vec<Duration>,
    all_ok: usize,
    failed: usize,
    first_error: Option<String>,
}

async fn run_level(
    target: Arc<Target>,
    clients: usize,
    document: Bytes,
    warmup: Duration,
    measure: Duration,
) -> Level {
    let peak_resettable = reset_tree_peak(target.pid);
    let ready = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let go = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let window: Arc<OnceLock<(Instant, Instant)>> = Arc::new(OnceLock::new());
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (target, document, ready, go, window) = (
            target.clone(),
            document.clone(),
            ready.clone(),
            go.clone(),
            window.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let http = client(Duration::from_secs(120));
            let mut result = ClientResult {
                latencies: Vec::new(),
                all_ok: 0,
                failed: 0,
                first_error: None,
            };
            let fail = |result: &mut ClientResult, e: String| {
                result.failed += 1;
                result.first_error.get_or_insert(e);
            };
            // Open the connection (TLS handshake) with a first job, outside the window.
            let mut id = 1u32;
            let body = small_body(&target, id, &format!("bench-{c}-{id}"), &document);
            match submit(&http, &target, body, id).await {
                Ok(_) => result.all_ok += 1,
                Err(e) => fail(&mut result, e),
            }
            ready.wait().await;
            go.wait().await;
            let (start, end) = *window.get().expect("window set");
            loop {
                id += 1;
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let body = small_body(&target, id, &format!("bench-{c}-{id}"), &document);
                let outcome = submit(&http, &target, body, id).await;
                let done = Instant::now();
                if outcome.is_ok() {
                    result.all_ok += 1;
                }
                if done < start || done > end {
                    continue;
                }
                match outcome {
                    Ok(_) => result.latencies.push(done - sent),
                    Err(e) => fail(&mut result, e),
                }
            }
            result
        }));
    }
    ready.wait().await;
    let start = Instant::now() + warmup;
    let end = start + measure;
    window.set((start, end)).expect("set once");
    go.wait().await;
    tokio::time::sleep_until(start.into()).await;
    let (server0, client0, all0) = (
        tree_cpu_secs(target.pid),
        cpu_secs(None, false),
        all_processes_cpu(),
    );
    tokio::time::sleep_until(end.into()).await;
    let (server1, client1, all1) = (
        tree_cpu_secs(target.pid),
        cpu_secs(None, false),
        all_processes_cpu(),
    );
    let mut ours = process_tree(target.pid);
    ours.push(std::process::id());
    let (other_cpu, kernel_cpu) = others_cpu(&all0, &all1, &ours);
    let mut level = Level {
        ok: 0,
        all_ok: 0,
        failed: 0,
        first_error: None,
        secs: measure.as_secs_f64(),
        latencies: Vec::new(),
        server_cpu: server1 - server0,
        client_cpu: client1 - client0,
        other_cpu,
        kernel_cpu,
        rss_end_kib: None,
        processes_end: 0,
        peak_kib: None,
    };
    for task in tasks {
        let result = task.await.expect("client task");
        level.ok += result.latencies.len();
        level.all_ok += result.all_ok;
        level.failed += result.failed;
        if level.first_error.is_none() {
            level.first_error = result.first_error;
        }
        level.latencies.extend(result.latencies);
    }
    level.latencies.sort();
    level.rss_end_kib = tree_status_kib(target.pid, "VmRSS:");
    level.processes_end = process_tree(target.pid).len();
    if peak_resettable {
        level.peak_kib = tree_status_kib(target.pid, "VmHWM:");
    }
    level
}

// ---------------------------------------------------------------------------------
// The big job

struct Big {
    rss_before_kib: u64,
    peak_kib: Option<u64>,
    /// The main process alone (without child processes).
    main_peak_kib: Option<u64>,
    sampled_max_kib: u64,
    secs: f64,
    outcome: Result<i32, String>,
}

async fn big_job(target: &Target, size: u64) -> Big {
    let pid = target.pid;
    let rss_before_kib = tree_status_kib(pid, "VmRSS:").unwrap_or(0);
    let resettable = reset_tree_peak(pid);
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut max = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                max = max.max(tree_status_kib(pid, "VmRSS:").unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            max
        })
    };
    let request_id = 1;
    let header = Bytes::from(print_job(request_id, &target.printer_uri, "bench-1GiB"));
    let chunks = std::iter::once(header)
        .chain(big_document(size))
        .map(Ok::<Bytes, std::io::Error>);
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let http = client(Duration::from_secs(1800));
    let started = Instant::now();
    let outcome = submit(&http, target, body, request_id).await;
    let secs = started.elapsed().as_secs_f64();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let sampled_max_kib = sampler.await.unwrap_or(0);
    Big {
        rss_before_kib,
        peak_kib: if resettable {
            tree_status_kib(pid, "VmHWM:")
        } else {
            None
        },
        main_peak_kib: if resettable {
            proc_status_kib(pid, "VmHWM:")
        } else {
            None
        },
        sampled_max_kib,
        secs,
        outcome,
    }
}

// ---------------------------------------------------------------------------------
// PrintPark

struct PrintPark {
    server: Server,
    port: u16,
    app_password: String,
    _dir: tempfile::TempDir,
}

fn printpark_command(dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_printpark"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("PRINTPARK_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PRINTPARK_DATA_DIR", dir.join("data"))
        .env("PRINTPARK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("PRINTPARK_QUEUE__MAX_JOB_MIB", "4096")
        .env("PRINTPARK_QUEUE__MAX_HELD_PER_USER", "4000000000")
        // A benchmark server does not announce itself on the network.
        .env("PRINTPARK_DNSSD__ENABLED", "false")
        .env("PRINTPARK_LOG__LEVEL", "warn")
        .env("PRINTPARK_LOG__FORMAT", "text")
        .env("NO_COLOR", "1");
    cmd
}

fn csrf_of(html: &str) -> Result<String, String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).ok_or("no csrf field in the page")? + marker.len();
    let end = html[start..].find('"').ok_or("no csrf end")? + start;
    Ok(html[start..end].to_owned())
}

async fn start_printpark() -> Result<PrintPark, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = free_port();
    // An administrator first (else the server is in first-run mode), then the user
    // who prints.
    for (user, admin) in [("admin", true), (USER, false)] {
        let mut create = printpark_command(dir.path(), port);
        create
            .args(["admin", "create-user", "--username", user])
            .args(["--email", &format!("{user}@example.org"), "--name", user]);
        if admin {
            create.arg("--admin");
        }
        let mut child = create
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("printpark admin create-user: {e}"))?;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .map_err(|e| e.to_string())?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "create-user {user} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let log = dir.path().join("serve.log");
    let child = printpark_command(dir.path(), port)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("printpark serve: {e}"))?;
    let mut server = Server {
        name: "printpark",
        child,
        log,
        grace: Duration::from_secs(40),
    };
    let base = format!("https://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let started = Instant::now();
    loop {
        if let Some(status) = server.exited() {
            return Err(format!(
                "printpark exited ({status}):\n{}",
                server.log_tail()
            ));
        }
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "printpark not healthy after 60 s:\n{}",
                server.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An app password, as the README asks of printing devices: sign in once, make it.
    let fail = |e: reqwest::Error| error_chain(&e);
    let page = http
        .get(format!("{base}/login"))
        .send()
        .await
        .map_err(fail)?;
    let csrf = csrf_of(&page.text().await.map_err(fail)?)?;
    let signed_in = http
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", USER),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .map_err(fail)?;
    if signed_in.status() != 303 {
        return Err(format!("portal sign-in answered {}", signed_in.status()));
    }
    let page = http
        .get(format!("{base}/portal/account"))
        .send()
        .await
        .map_err(fail)?;
    let csrf = csrf_of(&page.text().await.map_err(fail)?)?;
    let made = http
        .post(format!("{base}/portal/account/app-passwords"))
        .form(&[("csrf", csrf.as_str()), ("label", "ipp bench")])
        .send()
        .await
        .map_err(fail)?
        .text()
        .await
        .map_err(fail)?;
    let marker = "id=\"new-app-password\">";
    let start = made.find(marker).ok_or("no app password in the page")? + marker.len();
    let end = made[start..].find("</code>").ok_or("no app password end")? + start;
    Ok(PrintPark {
        server,
        port,
        app_password: made[start..end].to_owned(),
        _dir: dir,
    })
}

// ---------------------------------------------------------------------------------
// cupsd

struct Cupsd {
    server: Server,
    port: u16,
    _dir: tempfile::TempDir,
}

fn start_cupsd() -> Result<Cupsd, String> {
    let cupsd = which("cupsd").ok_or("cupsd not found (Debian: apt-get install cups)")?;
    let lpadmin = which("lpadmin").ok_or("lpadmin not found (Debian: cups-client)")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    for sub in ["spool/tmp", "cache", "state", "log", "ssl"] {
        std::fs::create_dir_all(root.join(sub)).map_err(|e| e.to_string())?;
    }
    let port = free_port();
    // Everything open (no authentication), TLS when the client asks (cupsd detects a
    // TLS ClientHello on any port), no job limits, held jobs kept.
    let conf = format!(
        "Listen 127.0.0.1:{port}\n\
         LogLevel warn\n\
         Browsing No\n\
         BrowseLocalProtocols none\n\
         WebInterface No\n\
         DefaultAuthType None\n\
         DefaultEncryption IfRequested\n\
         MaxJobs 0\n\
         MaxJobsPerUser 0\n\
         MaxJobsPerPrinter 0\n\
         MaxClients 1000\n\
         MaxClientsPerHost 1000\n\
         MaxRequestSize 0\n\
         KeepAlive On\n\
         Timeout 300\n\
         DefaultPolicy open\n\
         <Location />\n  Order allow,deny\n  Allow all\n</Location>\n\
         <Policy open>\n  JobPrivateAccess all\n  JobPrivateValues none\n  \
         SubscriptionPrivateAccess all\n  SubscriptionPrivateValues none\n  \
         <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
    );
    // As root cupsd needs an unprivileged User/Group (for filters and backends, which
    // never run here: every job is held); Debian has `lp`.
    let account = if is_root() {
        let group = if std::fs::read_to_string("/etc/group")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("lp:"))
        {
            "lp"
        } else {
            "nogroup"
        };
        let user = if std::fs::read_to_string("/etc/passwd")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("lp:"))
        {
            "lp"
        } else {
            "nobody"
        };
        format!("User {user}\nGroup {group}\nSystemGroup root\n")
    } else {
        let group = Command::new("id")
            .arg("-gn")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        format!("SystemGroup {group}\n")
    };
    let r = root.display();
    let files = format!(
        "ServerRoot {r}\n\
         RequestRoot {r}/spool\n\
         TempDir {r}/spool/tmp\n\
         CacheDir {r}/cache\n\
         StateDir {r}/state\n\
         ServerKeychain {r}/ssl\n\
         CreateSelfSignedCerts Yes\n\
         ErrorLog {r}/log/error_log\n\
         AccessLog {r}/log/access_log\n\
         PageLog {r}/log/page_log\n\
         DataDir /usr/share/cups\n\
         ServerBin /usr/lib/cups\n\
         FileDevice Yes\n\
         Printcap\n\
         {account}"
    );
    std::fs::write(root.join("cupsd.conf"), conf).map_err(|e| e.to_string())?;
    std::fs::write(root.join("cups-files.conf"), files).map_err(|e| e.to_string())?;
    let log = root.join("log/error_log");
    let child = Command::new(&cupsd)
        .arg("-f")
        .arg("-c")
        .arg(root.join("cupsd.conf"))
        .arg("-s")
        .arg(root.join("cups-files.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", cupsd.display()))?;
    let mut server = Server {
        name: "cupsd",
        child,
        log,
        // With thousands of held jobs cupsd takes many seconds to stop; it is a
        // throwaway, so it gets a short grace and then SIGKILL.
        grace: Duration::from_secs(2),
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = server.exited() {
            return Err(format!("cupsd exited ({status}):\n{}", server.log_tail()));
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err(format!(
                "cupsd not listening after 20 s:\n{}",
                server.log_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new(&lpadmin)
        .args(["-h", &format!("127.0.0.1:{port}")])
        .args(["-p", "held", "-E", "-v", "file:///dev/null"])
        .args(["-o", "job-hold-until-default=indefinite"])
        .env_remove("CUPS_SERVER")
        .output()
        .map_err(|e| format!("lpadmin: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "lpadmin failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            server.log_tail()
        ));
    }
    Ok(Cupsd {
        server,
        port,
        _dir: dir,
    })
}

// ---------------------------------------------------------------------------------
// Context: the document, the disk

/// Median time of a 4 KiB write + fsync in the temp folder: the floor under any
/// server that makes each job durable before answering.
fn fsync_ms() -> f64 {
    let Ok(dir) = tempfile::tempdir() else {
        return f64::NAN;
    };
    let mut times = Vec::new();
    for i in 0..40 {
        let started = Instant::now();
        let Ok(mut f) = std::fs::File::create(dir.path().join(format!("f{i}"))) else {
            return f64::NAN;
        };
        let _ = f.write_all(&[7u8; 4096]);
        let _ = f.sync_all();
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn opt_mib(kib: Option<u64>) -> String {
    kib.map(mib).unwrap_or_else(|| "n/a".into())
}

// ---------------------------------------------------------------------------------

fn main() {
    let opts = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(opts));
}

/// A PrintPark and (unless refused or unavailable) a cupsd, both fresh, each with
/// one probe job held.
struct Pair {
    pp: Arc<Target>,
    pp_password: Arc<Target>,
    cups: Option<Arc<Target>>,
    // Dropped in this order: servers stop before their folders go.
    _printpark: PrintPark,
    _cupsd: Option<Cupsd>,
}

impl Pair {
    fn targets(&self) -> Vec<Arc<Target>> {
        let mut targets = vec![self.pp.clone()];
        targets.extend(self.cups.clone());
        targets
    }
}

async fn start_pair(opts: &Options, document: &Bytes, verbose: bool) -> Pair {
    let printpark = match start_printpark().await {
        Ok(p) => p,
        Err(e) => panic!("PrintPark did not start: {e}"),
    };
    let pp = Arc::new(Target {
        name: "PrintPark",
        url: format!("https://127.0.0.1:{}/ipp/print", printpark.port),
        printer_uri: format!("ipps://127.0.0.1:{}/ipp/print", printpark.port),
        auth: Some((USER.into(), printpark.app_password.clone())),
        pid: printpark.server.pid(),
    });
    let pp_password = Arc::new(Target {
        name: "PrintPark (account password)",
        auth: Some((USER.into(), PASSWORD.into())),
        url: pp.url.clone(),
        printer_uri: pp.printer_uri.clone(),
        pid: pp.pid,
    });
    let (cupsd, cups) = if opts.cupsd {
        match start_cupsd() {
            Ok(c) => {
                let target = Arc::new(Target {
                    name: "cupsd",
                    url: format!("https://127.0.0.1:{}/printers/held", c.port),
                    printer_uri: format!("ipps://127.0.0.1:{}/printers/held", c.port),
                    auth: None,
                    pid: c.server.pid(),
                });
                (Some(c), Some(target))
            }
            Err(e) => {
                if verbose {
                    println!("cupsd: NOT RUN: {e}");
                }
                (None, None)
            }
        }
    } else {
        (None, None)
    };
    let pair = Pair {
        pp,
        pp_password,
        cups,
        _printpark: printpark,
        _cupsd: cupsd,
    };
    // One probe job each: the setup works and the job is held.
    for target in pair.targets() {
        let http = client(Duration::from_secs(30));
        let server_header = http
            .get(
                target
                    .url
                    .replace("/ipp/print", "/healthz")
                    .replace("/printers/held", "/"),
            )
            .send()
            .await
            .ok()
            .and_then(|r| {
                r.headers()
                    .get("server")
                    .map(|v| v.to_str().unwrap_or("").to_owned())
            })
            .unwrap_or_default();
        let body = small_body(&target, 1, "probe", document);
        match submit(&http, &target, body, 1).await {
            Ok(job) if verbose => println!(
                "{}: probe job {job} held{}",
                target.name,
                if server_header.is_empty() {
                    String::new()
                } else {
                    format!(" (Server: {server_header})")
                }
            ),
            Ok(_) => {}
            Err(e) => panic!("{}: the probe job failed: {e}", target.name),
        }
    }
    pair
}

async fn run(opts: Options) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let today = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    let work = tempfile::tempdir().expect("temp dir");
    let (document, document_label) = one_page_pdf(
        work.path(),
        "page 1 of tests/fixtures/documents/document-a4.pdf, cut with Ghostscript",
    );
    println!(
        "PrintPark IPP benchmark, {today}, {cores} cores (the bench client shares them with the server under test)"
    );
    println!(
        "document: {} bytes, {document_label}; disk: 4 KiB write+fsync median {:.2} ms; load average before: {}",
        document.len(),
        fsync_ms(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "PrintPark {}: IPPS (rustls, its self-signed certificate), HTTP Basic with an app password on every request, \
         documents sealed at rest (AES-256-GCM, fsync) + SQLite index and audit row, workers = cores",
        env!("CARGO_PKG_VERSION")
    );
    if opts.cupsd {
        println!(
            "cupsd: IPPS (TLS detected on its port, its self-signed certificate), NO authentication \
             (requesting-user-name only), queue `held` on file:///dev/null with job-hold-until-default=indefinite \
             and job-hold-until=indefinite in each request; spool files in clear and not fsynced before it answers"
        );
    }
    let cupsd_label = "cupsd (TLS, no auth, held)";

    // Load levels. Both servers start afresh for each level (an empty queue: cupsd
    // slows down as held jobs pile up), and take turns.
    let warmup = Duration::from_secs_f64(opts.warmup);
    let measure = Duration::from_secs_f64(opts.seconds);
    println!(
        "\nThroughput: Print-Job of the 1-page PDF, N clients each on its own keep-alive TLS connection, \
         closed loop, {:.0} s warm-up + {:.0} s measured per level, fresh servers for each level",
        opts.warmup, opts.seconds
    );
    let mut rows: Vec<(usize, Level, Option<Level>)> = Vec::new();
    for (i, &n) in opts.levels.iter().enumerate() {
        let pair = start_pair(&opts, &document, i == 0).await;
        eprintln!("  running {n} client(s) against PrintPark …");
        let a = run_level(pair.pp.clone(), n, document.clone(), warmup, measure).await;
        let b = match &pair.cups {
            Some(c) => {
                eprintln!("  running {n} client(s) against cupsd …");
                Some(run_level(c.clone(), n, document.clone(), warmup, measure).await)
            }
            None => None,
        };
        rows.push((n, a, b));
    }

    let cell = |l: &Level| {
        format!(
            "{:>8.1} {:>7.1} {:>7.1} {:>5} {:>7.2} {:>10}",
            l.jobs_per_sec(),
            l.percentile_ms(0.5),
            l.percentile_ms(0.99),
            l.failed,
            l.cpu_ms_per_job(),
            opt_mib(l.peak_kib)
        )
    };
    let head = format!(
        "{:>8} {:>7} {:>7} {:>5} {:>7} {:>10}",
        "jobs/s", "p50 ms", "p99 ms", "fail", "CPU ms", "peak RSS"
    );
    println!(
        "\n{:<8} | {:<50} | {:<50} |",
        "", "PrintPark (TLS, app password, sealed, fsync)", cupsd_label
    );
    println!("{:<8} | {head} | {head} | PP/cupsd", "clients");
    for (n, a, b) in &rows {
        let (right, ratio) = match b {
            Some(b) => (
                cell(b),
                format!("{:.2}x", a.jobs_per_sec() / b.jobs_per_sec()),
            ),
            None => ("-".into(), "-".into()),
        };
        println!("{n:<8} | {} | {right:<50} | {ratio}", cell(a));
    }
    let levels = |f: &dyn Fn(&Level) -> String| {
        rows.iter()
            .map(|(n, a, b)| match b {
                Some(b) => format!("{n}: {} / {}", f(a), f(b)),
                None => format!("{n}: {}", f(a)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "CPU ms = server CPU time per successful job; peak RSS = the server's VmHWM during the level (both summed \
         over the server's processes: PrintPark's PDF analysers are child processes).\n\
         per level, PrintPark / cupsd:\n  \
         jobs held at the end, RSS then: {}\n  \
         bench client CPU per job: {}\n  \
         kernel threads (writeback, journal…): {}\n  \
         other processes on the machine: {}",
        levels(&|l| format!(
            "{} jobs {} ({} process{})",
            l.all_ok + 1,
            opt_mib(l.rss_end_kib),
            l.processes_end,
            if l.processes_end == 1 { "" } else { "es" }
        )),
        levels(&|l| format!("{:.2} ms", 1e3 * l.client_cpu / l.ok.max(1) as f64)),
        levels(&|l| format!("{:.2} cores", l.kernel_cpu / l.secs)),
        levels(&|l| format!("{:.2} cores", l.other_cpu / l.secs)),
    );
    let busiest = rows
        .iter()
        .flat_map(|(_, a, b)| [Some(a), b.as_ref()])
        .flatten()
        .map(|l| l.other_cpu / l.secs)
        .fold(0.0, f64::max);
    if busiest > 0.15 {
        println!(
            "WARNING: other processes used up to {busiest:.2} cores during a level: the machine was not idle, the figures are disturbed"
        );
    }
    let mut failures = false;
    for (n, a, b) in &rows {
        for (name, l) in [("PrintPark", Some(a)), ("cupsd", b.as_ref())] {
            if let Some(l) = l
                && let Some(e) = &l.first_error
            {
                failures = true;
                println!(
                    "FAILURES at {n} clients, {name}: {} failed; first: {e}",
                    l.failed
                );
            }
        }
    }

    // The big job, on fresh servers.
    let pair = start_pair(&opts, &document, false).await;
    let size = opts.big_mib * MIB;
    println!(
        "\nMemory: one {} MiB Print-Job streamed (chunked) over the same TLS to fresh servers, generated by the client \
         (never held in memory)",
        opts.big_mib
    );
    let mut bigs = Vec::new();
    for target in pair.targets() {
        eprintln!("  sending {} MiB to {} …", opts.big_mib, target.name);
        bigs.push((target.name, big_job(&target, size).await));
    }
    println!(
        "{:<28} {:>16} {:>16}",
        "",
        "PrintPark",
        if bigs.len() > 1 { "cupsd" } else { "" }
    );
    let line = |label: &str, f: &dyn Fn(&Big) -> String| {
        let cells: Vec<String> = bigs.iter().map(|(_, b)| format!("{:>16}", f(b))).collect();
        println!("{label:<28} {}", cells.join(" "));
    };
    line("RSS before", &|b| mib(b.rss_before_kib));
    line("peak RSS (VmHWM) during", &|b| opt_mib(b.peak_kib));
    line("  of which the main process", &|b| opt_mib(b.main_peak_kib));
    line("max sampled RSS (50 ms)", &|b| mib(b.sampled_max_kib));
    line("wall time", &|b| format!("{:.1} s", b.secs));
    line("throughput", &|b| {
        format!("{:.0} MB/s", size as f64 / 1e6 / b.secs)
    });
    line("result", &|b| match &b.outcome {
        Ok(job) => format!("job {job} held"),
        Err(_) => "FAILED".into(),
    });
    for (name, b) in &bigs {
        if let Err(e) = &b.outcome {
            failures = true;
            println!("{name}: the big job failed: {e}");
        }
    }
    println!(
        "(cupsd writes the document to its spool folder in clear, no fsync; PrintPark seals it and fsyncs before \
         answering. bench client peak RSS: {})",
        opt_mib(proc_status_kib(std::process::id(), "VmHWM:"))
    );

    // Last (its memory stays with the process): Basic with the account password.
    if opts.password_auth {
        let n = opts.levels.iter().copied().find(|&n| n >= 8).unwrap_or(8);
        eprintln!("  running {n} client(s) against PrintPark with the account password …");
        let l = run_level(
            pair.pp_password.clone(),
            n,
            document.clone(),
            warmup,
            measure,
        )
        .await;
        println!(
            "\nPrintPark, HTTP Basic with the account password instead (one Argon2id check per request):\n\
             {:<8} | {head}\n{n:<8} | {}\n(RSS afterwards: {})",
            "clients",
            cell(&l),
            opt_mib(tree_status_kib(pair.pp.pid, "VmRSS:"))
        );
        if let Some(e) = &l.first_error {
            failures = true;
            println!(
                "FAILURES with the account password: {}; first: {e}",
                l.failed
            );
        }
    }

    // The aims of the issue.
    println!();
    if let Some((n, a, Some(b))) = rows.iter().find(|(n, _, _)| *n == 64).or(rows.last()) {
        let ratio = a.jobs_per_sec() / b.jobs_per_sec();
        println!(
            "aim 1, >= 2x cupsd's jobs/s at 64 clients with encryption on: {} ({n} clients: {:.1} vs {:.1} jobs/s = {ratio:.2}x)",
            if ratio >= 2.0 && *n == 64 {
                "MET"
            } else {
                "NOT MET"
            },
            a.jobs_per_sec(),
            b.jobs_per_sec()
        );
    }
    if let Some((_, b)) = bigs.iter().find(|(name, _)| *name == "PrintPark") {
        let peak = b.peak_kib.unwrap_or(b.sampled_max_kib);
        println!(
            "aim 2, < 64 MiB peak memory while receiving the {} MiB job: {} (PrintPark peak {})",
            opts.big_mib,
            if peak < 64 * 1024 && b.outcome.is_ok() {
                "MET"
            } else {
                "NOT MET"
            },
            mib(peak)
        );
    }
    if failures {
        println!("SOME REQUESTS FAILED: see above");
    }
    std::io::stdout().flush().ok();
    drop(pair);
    if failures {
        std::process::exit(1);
    }
}
