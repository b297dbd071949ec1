//! The on-site agent: time from a release to the first byte at the printer through
//! `printpark agent` (p50/p90/p99/max over `--jobs` jobs), and the agent's idle CPU and
//! memory with `--printers` printers assigned, next to a baseline: the same kind of
//! printers delivered by the server itself (push, no agent), same jobs, same pattern.
//!
//! Run: `cargo bench --bench agent` (about 4 minutes after the build). Options, after
//! `--`: `--printers N` (20 per side), `--jobs N` (100 per side), `--interval-ms MS`
//! (250: one release every MS, round-robin over the printers), `--idle-secs S` (90,
//! the agent's idle window), `--baseline-secs S` (30, the server alone before the
//! agent starts; 0 skips it), `--after-secs S` (20, idle again after the load; 0 skips
//! it), `--no-push` (no baseline phase), `--csv PATH` (every job's timings, one line
//! each).
//!
//! What it does:
//! - 2 × `--printers` "printers" in this process: raw TCP listeners on 127.0.0.1 (what a
//!   port-9100 printer is). Each accepted connection is read to its end and noted: when
//!   it was accepted, when its first and last byte came, all its bytes; then the
//!   listener closes its side (as printers do once a raw job is in: the sender waits
//!   for that). A connection without a byte is a probe (the server's "is it there?"
//!   check before a push release), not a job;
//! - prepares a temporary data dir with the library (`Services::start` on it; no
//!   worker runs in this process): an admin, one user with a PIN, the first half of
//!   the printers with delivery `infra` (pulled by an output device) and the URI
//!   `socket://127.0.0.1:PORT` where the agent delivers, the second half with
//!   delivery `auto` and the same kind of URI (the server pushes, raw), and every job
//!   of both phases parked (`tests/fixtures/documents/document-a4.pdf` + a unique
//!   comment line, so each document is distinct and checkable at its printer);
//! - starts the real `printpark serve` as a child process on that data dir (SQLite,
//!   local disk, its self-signed certificate, DNS-SD off, a free loopback port), and,
//!   after `--baseline-secs` of the server alone, the real `printpark agent --server
//!   https://127.0.0.1:PORT --enrol CODE --state-dir TMP` (code from
//!   `infra().new_enrolment_code`). Once its row appears, the agent printers are
//!   assigned to it and it is approved (through the library, on the shared SQLite
//!   file), and the bench waits until every one of its output devices registered;
//! - idle: `--idle-secs` with nothing released: the agent's CPU (utime + stime in
//!   /proc/PID/stat), its VmRSS every 0.5 s, VmHWM, threads and sockets, the server's
//!   CPU in the same window, and the INFRA requests the server answered (`/metrics`);
//! - agent phase: `--jobs` releases, one job each, one every `--interval-ms`,
//!   round-robin over the agent printers, through the server child's output-device app
//!   API (`POST /api/v1/output-device/release`, authenticated as the printer's output
//!   device with the credential the agent's heartbeat hands out, read in-process with
//!   `infra().heartbeat`; the person signed in beforehand with login + PIN at
//!   `POST /api/v1/output-device/session`, not timed);
//! - push phase: the same over the push printers, released at each printer's release
//!   station (`POST /station/{guid}/release` with the one job ticked, the HTML form a
//!   station's browser sends, CSRF token and station cookie from a login + PIN sign-in
//!   beforehand, not timed; the 303 answer is not followed). The device app API is
//!   only for `infra` printers, and the station is the cheapest way left: one POST,
//!   no page rendered on success;
//! - per job: t0 = just before the release POST; → POST answered; → connection
//!   accepted at its printer; → first byte; → last byte; → `printed` in the database
//!   (the bench reads the release row every 5 ms). Every job must reach its own
//!   printer exactly once, byte for byte, and end `printed`: anything else is printed
//!   loudly and makes the exit status 1. Timings are shown, never asserted;
//! - the CPU of the agent, of the server and of every other process on the machine
//!   (shared with builds: a busy machine is shown, not hidden) over each window.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark that cannot go on stops with the reason"
)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use printpark::config::Settings;
use printpark::db::PrinterRow;
use printpark::identity::{ClientInfo, NewUserRequest, User};
use printpark::ipp::op;
use printpark::release::pull::LONGEST_WAIT;
use printpark::release::{HEARTBEAT_SECS, PrinterForm};
use printpark::services::Services;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;
use common::{
    Process, all_processes_cpu, cpu_secs, create_admin, error_chain, free_port, fsync_ms,
    insecure_client, load_average, machine, mib, ms, others_cpu, percentile, portal_pdf,
    printpark_command, proc_status_kib, reset_peak, sockets, start_server,
};

/// The agent reads and reports each printer's state this often (`agent::device`'s
/// `REPORT_EVERY`, private there), after the long poll under way ends.
const AGENT_REPORT_SECS: u64 = 60;
/// What the bench's printers write after the fixture, then the job's name.
const MARKER: &str = "%PrintPark agent bench ";
/// The person releasing.
const USER: &str = "ann";
const PASSWORD: &str = "ann's long password";
const PIN: &str = "482916";
/// How often the bench reads the state of releases under way.
const DB_POLL: Duration = Duration::from_millis(5);
/// Aims from the issue.
const AIM_P99_MS: f64 = 1000.0;
const AIM_IDLE_RSS_MIB: f64 = 20.0;

// ---------------------------------------------------------------------------------
// Options

struct Options {
    printers: usize,
    jobs: usize,
    interval: Duration,
    idle_secs: f64,
    baseline_secs: f64,
    after_secs: f64,
    push: bool,
    csv: Option<PathBuf>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number = |name: &str, default: f64| {
        value(name)
            .map(|v| {
                v.parse::<f64>()
                    .unwrap_or_else(|_| panic!("{name} wants a number, not {v:?}"))
            })
            .unwrap_or(default)
    };
    let opts = Options {
        printers: number("--printers", 20.0) as usize,
        jobs: number("--jobs", 100.0) as usize,
        interval: Duration::from_secs_f64(number("--interval-ms", 250.0) / 1e3),
        idle_secs: number("--idle-secs", 90.0),
        baseline_secs: number("--baseline-secs", 30.0),
        after_secs: number("--after-secs", 20.0),
        push: !args.iter().any(|a| a == "--no-push"),
        csv: value("--csv").map(PathBuf::from),
    };
    assert!(
        opts.printers >= 1 && opts.jobs >= 1,
        "--printers and --jobs must be at least 1"
    );
    opts
}

// ---------------------------------------------------------------------------------
// The agent process (the server's and the /proc readings are in common.rs)

fn start_agent(dir: &Path, base: &str, code: &str) -> Result<Process, String> {
    // A folder of its own, so no printpark.toml is found by chance.
    let home = dir.join("agent-home");
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let log = dir.join("agent.log");
    let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    // The agent logs to stdout (as service managers expect); stderr too, for panics.
    let child = printpark_command(&home)
        .args([
            "agent",
            "--server",
            base,
            "--enrol",
            code,
            "--name",
            "bench agent",
        ])
        .arg("--state-dir")
        .arg(dir.join("agent-state"))
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file)
        .spawn()
        .map_err(|e| format!("printpark agent: {e}"))?;
    Ok(Process {
        name: "printpark agent",
        child,
        log,
        grace: Duration::from_secs(90),
    })
}

/// What the server counted so far (`/metrics`): INFRA requests by operation, and
/// HTTP requests to `/api` (the agent's heartbeats, the release calls).
#[derive(Clone, Default)]
struct Counts {
    infra: BTreeMap<String, u64>,
    api: u64,
}

async fn server_counts(base: &str) -> Option<Counts> {
    let text = insecure_client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut counts = Counts::default();
    for line in text.lines() {
        let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        if line.starts_with("printpark_infra_requests_total")
            && let Some(at) = line.find("operation=\"")
        {
            let code = &line[at + 11..];
            let code = &code[..code.find('"').unwrap_or(code.len())];
            *counts.infra.entry(operation_name(code)).or_default() += value as u64;
        } else if line.starts_with("printpark_http_requests_total") && line.contains("\"/api\"") {
            counts.api += value as u64;
        }
    }
    Some(counts)
}

fn operation_name(code: &str) -> String {
    let Ok(code) = u16::from_str_radix(code.trim_start_matches("0x"), 16) else {
        return code.to_owned();
    };
    match code {
        op::GET_NOTIFICATIONS => "Get-Notifications",
        op::UPDATE_OUTPUT_DEVICE_ATTRIBUTES => "Update-Output-Device-Attributes",
        op::FETCH_JOB => "Fetch-Job",
        op::ACKNOWLEDGE_JOB => "Acknowledge-Job",
        op::FETCH_DOCUMENT => "Fetch-Document",
        op::ACKNOWLEDGE_DOCUMENT => "Acknowledge-Document",
        op::UPDATE_JOB_STATUS => "Update-Job-Status",
        op::GET_JOBS => "Get-Jobs",
        op::CREATE_PRINTER_SUBSCRIPTIONS => "Create-Printer-Subscriptions",
        op::REGISTER_OUTPUT_DEVICE => "Register-Output-Device",
        op::DEREGISTER_OUTPUT_DEVICE => "Deregister-Output-Device",
        op::UPDATE_ACTIVE_JOBS => "Update-Active-Jobs",
        other => return format!("0x{other:04x}"),
    }
    .to_owned()
}

fn count_diff(before: &Option<Counts>, after: &Option<Counts>) -> Option<Counts> {
    let (before, after) = (before.as_ref()?, after.as_ref()?);
    let mut diff = Counts {
        api: after.api.saturating_sub(before.api),
        ..Default::default()
    };
    for (name, n) in &after.infra {
        let d = n.saturating_sub(before.infra.get(name).copied().unwrap_or(0));
        if d > 0 {
            diff.infra.insert(name.clone(), d);
        }
    }
    Some(diff)
}

fn describe_counts(counts: &Option<Counts>, per: Option<f64>) -> String {
    let Some(c) = counts else {
        return "n/a (no /metrics)".into();
    };
    let total: u64 = c.infra.values().sum();
    let show = |n: u64| match per {
        Some(per) => format!("{:.1}", n as f64 / per),
        None => n.to_string(),
    };
    let parts: Vec<String> = c
        .infra
        .iter()
        .map(|(name, n)| format!("{name} {}", show(*n)))
        .collect();
    format!(
        "{} INFRA ({}); {} /api",
        show(total),
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        },
        show(c.api)
    )
}

// ---------------------------------------------------------------------------------
// The printers: raw TCP listeners

/// One connection a printer accepted, read to its end.
#[derive(Debug, Clone)]
struct Connection {
    printer: usize,
    accepted_at: Instant,
    first_byte_at: Option<Instant>,
    last_byte_at: Option<Instant>,
    bytes: Vec<u8>,
    error: Option<String>,
}

impl Connection {
    /// The job name after the marker line, if these bytes are one of ours.
    fn job_name(&self) -> Option<String> {
        let marker = MARKER.as_bytes();
        let at = self
            .bytes
            .windows(marker.len())
            .rposition(|w| w == marker)?;
        let rest = &self.bytes[at + marker.len()..];
        let end = rest.iter().position(|b| *b == b'\n')?;
        String::from_utf8(rest[..end].to_vec()).ok()
    }
}

#[derive(Default)]
struct Floor {
    connections: Mutex<Vec<Connection>>,
}

struct RawPrinters {
    ports: Vec<u16>,
    floor: Arc<Floor>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for RawPrinters {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn start_raw_printers(count: usize) -> RawPrinters {
    let floor = Arc::new(Floor::default());
    let mut ports = Vec::new();
    let mut tasks = Vec::new();
    for printer in 0..count {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind printer");
        ports.push(listener.local_addr().expect("addr").port());
        let floor = floor.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let accepted_at = Instant::now();
                tokio::spawn(take(stream, printer, accepted_at, floor.clone()));
            }
        }));
    }
    RawPrinters {
        ports,
        floor,
        tasks,
    }
}

/// Reads a connection to its end, then closes it (a raw sender waits for that).
async fn take(mut stream: TcpStream, printer: usize, accepted_at: Instant, floor: Arc<Floor>) {
    let mut connection = Connection {
        printer,
        accepted_at,
        first_byte_at: None,
        last_byte_at: None,
        bytes: Vec::new(),
        error: None,
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(120), stream.read(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                let now = Instant::now();
                connection.first_byte_at.get_or_insert(now);
                connection.last_byte_at = Some(now);
                connection.bytes.extend_from_slice(&buf[..n]);
            }
            Ok(Err(e)) => {
                connection.error = Some(e.to_string());
                break;
            }
            Err(_) => {
                connection.error = Some("nothing for 120 s".into());
                break;
            }
        }
    }
    drop(stream);
    floor.connections.lock().unwrap().push(connection);
}

// ---------------------------------------------------------------------------------
// Setup through the library (before the server starts)

#[derive(Clone)]
struct Expected {
    /// Index of the printer (listener) it must reach.
    printer: usize,
    len: usize,
    sha256: [u8; 32],
}

/// One parked job and where it goes.
#[derive(Clone)]
struct Parked {
    name: String,
    job_id: i64,
    /// Index of its printer within the phase.
    slot: usize,
}

struct Prepared {
    services: Services,
    admin: User,
    user: User,
    agent_printers: Vec<PrinterRow>,
    push_printers: Vec<PrinterRow>,
    /// [agent phase, push phase], in release order.
    phases: [Vec<Parked>; 2],
    expected: HashMap<String, Expected>,
}

fn settings(dir: &Path, max_held: u32) -> Settings {
    let mut s = Settings {
        data_dir: dir.join("data"),
        ..Default::default()
    };
    s.log.level = "warn".into();
    s.dnssd.enabled = false;
    s.queue.analyser_exe = Some(PathBuf::from(env!("CARGO_BIN_EXE_printpark")));
    s.queue.max_held_per_user = max_held;
    s
}

fn max_held(opts: &Options) -> u32 {
    ((2 * opts.jobs + 10) as u32).max(Settings::default().queue.max_held_per_user)
}

async fn prepare(dir: &Path, opts: &Options, ports: &[u16]) -> Prepared {
    let services = Services::start(settings(dir, max_held(opts)))
        .await
        .expect("services start");
    let client = ClientInfo::default();
    let identity = &services.identity;
    let admin = create_admin(&services, &client).await;
    let user = identity
        .create_user(
            None,
            &NewUserRequest {
                username: USER.into(),
                email: "ann@example.org".into(),
                password: Some(PASSWORD.into()),
                ..Default::default()
            },
            &client,
        )
        .await
        .expect("user");
    identity
        .set_own_pin(&user, PASSWORD, PIN, &client)
        .await
        .expect("PIN");
    let n = opts.printers;
    let mut agent_printers = Vec::new();
    let mut push_printers = Vec::new();
    for (p, port) in ports.iter().enumerate() {
        let (name, protocol) = if p < n {
            (format!("Agent {p:02}"), "infra")
        } else {
            (format!("Push {:02}", p - n), "auto")
        };
        let row = services
            .printers
            .add(
                &admin,
                &PrinterForm {
                    name,
                    uri: format!("socket://127.0.0.1:{port}"),
                    protocol: protocol.into(),
                    ..Default::default()
                },
                &client,
            )
            .await
            .expect("add printer");
        if p < n {
            agent_printers.push(row);
        } else {
            push_printers.push(row);
        }
    }

    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/documents/document-a4.pdf"
    ))
    .expect("tests/fixtures/documents/document-a4.pdf");
    let mut expected = HashMap::new();
    let mut plan = Vec::new();
    for (phase, label) in ["agent", "push"].iter().enumerate() {
        for k in 0..opts.jobs {
            let slot = k % n;
            let name = format!("{label}-{k:04}.pdf");
            let mut bytes = fixture.clone();
            bytes.extend_from_slice(format!("{MARKER}{name}\n").as_bytes());
            expected.insert(
                name.clone(),
                Expected {
                    printer: phase * n + slot,
                    len: bytes.len(),
                    sha256: Sha256::digest(&bytes).into(),
                },
            );
            plan.push((phase, slot, name, Bytes::from(bytes)));
        }
    }
    // Parked four at a time (each one's PDF is analysed in a child process).
    let chunks: Vec<Vec<_>> = plan
        .chunks(plan.len().div_ceil(4))
        .map(<[_]>::to_vec)
        .collect();
    let parking = chunks.into_iter().map(|chunk| {
        let services = services.clone();
        let user = user.clone();
        async move {
            let mut parked = Vec::new();
            for (phase, slot, name, bytes) in chunk {
                let submission = portal_pdf(&name);
                let job = services
                    .jobs
                    .park(&user, &submission, &mut &bytes[..], &ClientInfo::default())
                    .await
                    .unwrap_or_else(|e| panic!("park {name}: {e}"));
                parked.push((
                    phase,
                    Parked {
                        name,
                        job_id: job.id,
                        slot,
                    },
                ));
            }
            parked
        }
    });
    let mut phases: [Vec<Parked>; 2] = [Vec::new(), Vec::new()];
    for parked in futures_util::future::join_all(parking).await {
        for (phase, job) in parked {
            phases[phase].push(job);
        }
    }
    for jobs in &mut phases {
        jobs.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Prepared {
        services,
        admin,
        user,
        agent_printers,
        push_printers,
        phases,
        expected,
    }
}

// ---------------------------------------------------------------------------------
// Releasing: the output-device app API (agent printers), the station (push printers)

/// A printer's release panel: the device app API, as the printer's output device.
struct Panel {
    client: reqwest::Client,
    base: String,
    login: String,
    secret: String,
    token: Mutex<String>,
}

impl Panel {
    async fn sign_in(&self) -> Result<(), String> {
        let answer = self
            .client
            .post(format!("{}/api/v1/output-device/session", self.base))
            .basic_auth(&self.login, Some(&self.secret))
            .json(&serde_json::json!({"login": USER, "pin": PIN}))
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.map_err(|e| error_chain(&e))?;
        let token = body["token"]
            .as_str()
            .ok_or_else(|| format!("device sign-in answered {status}: {body}"))?;
        *self.token.lock().unwrap() = token.to_owned();
        Ok(())
    }

    /// The release id.
    async fn release(&self, job_id: i64) -> Result<(Instant, Instant, i64), String> {
        let token = self.token.lock().unwrap().clone();
        let request = self
            .client
            .post(format!("{}/api/v1/output-device/release", self.base))
            .basic_auth(&self.login, Some(&self.secret))
            .header("X-User-Session", token)
            .json(&serde_json::json!({ "job_ids": [job_id] }));
        let t0 = Instant::now();
        let answer = request.send().await.map_err(|e| error_chain(&e))?;
        let status = answer.status();
        let body = answer.bytes().await.map_err(|e| error_chain(&e))?;
        let answered = Instant::now();
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        match parsed["job_ids"].as_array().map(|a| a.as_slice()) {
            Some([id]) if status == 200 && id.as_i64().is_some() => {
                Ok((t0, answered, id.as_i64().unwrap_or_default()))
            }
            _ => Err(format!(
                "device release of job {job_id} answered {status}: {}",
                String::from_utf8_lossy(&body)
            )),
        }
    }
}

/// A printer's release station, as its browser uses it.
struct Station {
    browser: reqwest::Client,
    base: String,
    guid: String,
    csrf: Mutex<String>,
}

fn csrf_of(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

impl Station {
    fn new(base: &str, guid: &str) -> Self {
        Self {
            browser: reqwest::Client::builder()
                .cookie_store(true)
                .tls_danger_accept_invalid_certs(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            guid: guid.to_owned(),
            csrf: Mutex::new(String::new()),
        }
    }

    async fn page(&self) -> Result<String, String> {
        let page = self
            .browser
            .get(format!("{}/station/{}", self.base, self.guid))
            .send()
            .await
            .map_err(|e| error_chain(&e))?
            .text()
            .await
            .map_err(|e| error_chain(&e))?;
        csrf_of(&page).ok_or_else(|| "the station page has no csrf field".to_string())
    }

    async fn sign_in(&self) -> Result<(), String> {
        let csrf = self.page().await?;
        let signed = self
            .browser
            .post(format!("{}/station/{}/pin", self.base, self.guid))
            .form(&[("csrf", csrf.as_str()), ("login", USER), ("pin", PIN)])
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        if signed.status() != 303 {
            return Err(format!("station sign-in answered {}", signed.status()));
        }
        *self.csrf.lock().unwrap() = self.page().await?;
        Ok(())
    }

    /// The tap on "Print" with this one job ticked.
    async fn release(&self, job_id: i64) -> Result<(Instant, Instant), String> {
        let csrf = self.csrf.lock().unwrap().clone();
        let id = job_id.to_string();
        let request = self
            .browser
            .post(format!("{}/station/{}/release", self.base, self.guid))
            .form(&[("csrf", csrf.as_str()), ("pick", id.as_str())]);
        let t0 = Instant::now();
        let answer = request.send().await.map_err(|e| error_chain(&e))?;
        let answered = Instant::now();
        let status = answer.status();
        let location = answer
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if status != 303 || !location.ends_with("?view=printing") {
            let body = answer.text().await.unwrap_or_default();
            return Err(format!(
                "station release of job {job_id} answered {status} ({location}): {}",
                &body[..body.len().min(600)]
            ));
        }
        Ok((t0, answered))
    }
}

enum Releaser {
    Panels(Vec<Arc<Panel>>),
    Stations(Vec<Arc<Station>>),
}

/// Where one job is released.
enum Tap {
    Panel(Arc<Panel>),
    Station(Arc<Station>),
}

// ---------------------------------------------------------------------------------
// Windows and phases

#[derive(Clone, Default)]
struct Memory {
    rss: Option<u64>,
    anon: Option<u64>,
    file: Option<u64>,
    hwm: Option<u64>,
    threads: Option<u64>,
    sockets: usize,
}

fn memory(pid: u32) -> Memory {
    Memory {
        rss: proc_status_kib(pid, "VmRSS:"),
        anon: proc_status_kib(pid, "RssAnon:"),
        file: proc_status_kib(pid, "RssFile:"),
        hwm: proc_status_kib(pid, "VmHWM:"),
        threads: proc_status_kib(pid, "Threads:"),
        sockets: sockets(pid),
    }
}

/// Where a process's resident memory is: (mapping, its permissions) → (Rss, Pss) KiB,
/// largest first.
fn smaps(pid: u32) -> Vec<(String, u64, u64)> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return Vec::new();
    };
    let mut by: HashMap<String, (u64, u64)> = HashMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let kib = || {
            fields
                .get(1)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        match fields.first() {
            Some(&"Rss:") => by.entry(current.clone()).or_default().0 += kib(),
            Some(&"Pss:") => by.entry(current.clone()).or_default().1 += kib(),
            Some(first) if first.contains('-') && fields.len() >= 5 => {
                let name = fields
                    .get(5)
                    .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned())
                    .unwrap_or_else(|| "[anonymous]".into());
                current = format!("{name} {}", fields[1]);
            }
            _ => {}
        }
    }
    let mut all: Vec<(String, u64, u64)> = by
        .into_iter()
        .map(|(name, (rss, pss))| (name, rss, pss))
        .collect();
    all.sort_by_key(|m| std::cmp::Reverse(m.1));
    all
}

struct Idle {
    label: String,
    secs: f64,
    server_cpu: f64,
    agent_cpu: Option<f64>,
    others_cpu: f64,
    server: Memory,
    agent: Option<Memory>,
    /// The agent's VmRSS, sampled every 0.5 s: min, max.
    agent_rss_range: Option<(u64, u64)>,
    hwm_reset: bool,
    counts: Option<Counts>,
    /// The agent's memory by mapping at the end.
    agent_smaps: Vec<(String, u64, u64)>,
}

async fn idle_window(
    label: &str,
    secs: f64,
    server: &Process,
    agent: Option<&Process>,
    base: &str,
) -> Idle {
    let server_pid = server.pid();
    let agent_pid = agent.map(Process::pid);
    let me = std::process::id();
    let counts_before = server_counts(base).await;
    let hwm_reset = reset_peak(server_pid) & agent_pid.is_none_or(reset_peak);
    let machine_before = all_processes_cpu();
    let server_before = cpu_secs(Some(server_pid), true);
    let agent_before = agent_pid.map(|pid| cpu_secs(Some(pid), true));
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed().as_secs_f64() < secs {
        if let Some(rss) = agent_pid.and_then(|pid| proc_status_kib(pid, "VmRSS:")) {
            samples.push(rss);
        }
        let left = secs - started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs_f64(left.clamp(0.0, 0.5))).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = cpu_secs(Some(server_pid), true) - server_before;
    let agent_cpu = agent_pid
        .zip(agent_before)
        .map(|(pid, before)| cpu_secs(Some(pid), true) - before);
    let ours: Vec<u32> = [Some(server_pid), agent_pid, Some(me)]
        .into_iter()
        .flatten()
        .collect();
    let others = others_cpu(&machine_before, &all_processes_cpu(), &ours);
    let counts_after = server_counts(base).await;
    Idle {
        label: label.to_owned(),
        secs: elapsed,
        server_cpu,
        agent_cpu,
        others_cpu: others,
        server: memory(server_pid),
        agent: agent_pid.map(memory),
        agent_rss_range: samples
            .iter()
            .min()
            .copied()
            .zip(samples.iter().max().copied()),
        hwm_reset,
        counts: count_diff(&counts_before, &counts_after),
        agent_smaps: agent_pid.map(smaps).unwrap_or_default(),
    }
}

/// One job as released and as it arrived.
struct Released {
    job: Parked,
    t0: Instant,
    answered: Instant,
    release_id: i64,
}

struct Phase {
    label: &'static str,
    how: String,
    released: Vec<Released>,
    /// Release id → when the bench first saw it `printed`.
    printed_at: HashMap<i64, Instant>,
    wall: f64,
    server_cpu: f64,
    agent_cpu: Option<f64>,
    others_cpu: f64,
    server: Memory,
    agent: Option<Memory>,
    hwm_reset: bool,
    counts: Option<Counts>,
    /// Other processes' CPU seconds per second of the phase: (end of the second, CPU s).
    busy: Vec<(Instant, f64)>,
    errors: Vec<String>,
}

struct PhaseRun<'a> {
    label: &'static str,
    how: String,
    jobs: &'a [Parked],
    releaser: &'a Releaser,
    interval: Duration,
    services: &'a Services,
    user: &'a User,
    floor: &'a Floor,
    server: &'a Process,
    agent: Option<&'a Process>,
    base: &'a str,
}

async fn run_phase(run: PhaseRun<'_>) -> Phase {
    let server_pid = run.server.pid();
    let agent_pid = run.agent.map(Process::pid);
    let me = std::process::id();
    let mut errors = Vec::new();
    // Sign in at every printer (not timed).
    match run.releaser {
        Releaser::Panels(panels) => {
            for panel in panels {
                if let Err(e) = panel.sign_in().await {
                    errors.push(e);
                }
            }
        }
        Releaser::Stations(stations) => {
            for station in stations {
                if let Err(e) = station.sign_in().await {
                    errors.push(e);
                }
            }
        }
    }
    if !errors.is_empty() {
        return empty_phase(run.label, run.how, errors);
    }
    let since = printpark::clock::now() - 5;
    let counts_before = server_counts(run.base).await;
    let hwm_reset = reset_peak(server_pid) & agent_pid.is_none_or(reset_peak);
    let machine_before = all_processes_cpu();
    let server_before = cpu_secs(Some(server_pid), true);
    let agent_before = agent_pid.map(|pid| cpu_secs(Some(pid), true));
    let ours: Vec<u32> = [Some(server_pid), agent_pid, Some(me)]
        .into_iter()
        .flatten()
        .collect();

    // How busy the rest of the machine is, second by second (it is shared with builds).
    let watching = Arc::new(AtomicBool::new(true));
    let busy_watch = {
        let watching = watching.clone();
        let ours = ours.clone();
        tokio::spawn(async move {
            let mut busy = Vec::new();
            let mut before = all_processes_cpu();
            while watching.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = all_processes_cpu();
                busy.push((Instant::now(), others_cpu(&before, &now, &ours)));
                before = now;
            }
            busy
        })
    };

    // Releases under way → when first seen printed, read every 5 ms.
    let watched: Arc<Mutex<HashMap<i64, Option<Instant>>>> = Arc::default();
    let watcher = {
        let watched = watched.clone();
        let watching = watching.clone();
        let db = run.services.db.clone();
        tokio::spawn(async move {
            while watching.load(Ordering::SeqCst) {
                let open: Vec<i64> = watched
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(_, at)| at.is_none())
                    .map(|(id, _)| *id)
                    .collect();
                for id in open {
                    if let Ok(row) = db.release_by_id(id).await
                        && row.state == printpark::release::ReleaseState::Printed
                    {
                        watched.lock().unwrap().insert(id, Some(Instant::now()));
                    }
                }
                tokio::time::sleep(DB_POLL).await;
            }
        })
    };

    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let calls: Vec<_> = run
        .jobs
        .iter()
        .enumerate()
        .map(|(k, job)| {
            let job = job.clone();
            let at = start + run.interval * k as u32;
            let watched = watched.clone();
            let db = run.services.db.clone();
            let user_id = run.user.id;
            let tap = match run.releaser {
                Releaser::Panels(panels) => Tap::Panel(panels[job.slot].clone()),
                Releaser::Stations(stations) => Tap::Station(stations[job.slot].clone()),
            };
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let (t0, answered, release_id) = match tap {
                    Tap::Panel(panel) => panel.release(job.job_id).await?,
                    Tap::Station(station) => {
                        let (t0, answered) = station.release(job.job_id).await?;
                        // The station answers with a redirect only: the release's id
                        // is read from the database (after t0's measurements).
                        let rows = db
                            .releases_of_user(user_id, since)
                            .await
                            .map_err(|e| e.to_string())?;
                        let id = rows
                            .iter()
                            .find(|r| r.job_id == job.job_id)
                            .map(|r| r.id)
                            .ok_or_else(|| {
                                format!("no release of job {} in the database", job.job_id)
                            })?;
                        (t0, answered, id)
                    }
                };
                watched.lock().unwrap().entry(release_id).or_insert(None);
                Ok::<Released, String>(Released {
                    job,
                    t0,
                    answered,
                    release_id,
                })
            })
        })
        .collect();
    let mut released = Vec::new();
    for call in calls {
        match call.await {
            Ok(Ok(r)) => released.push(r),
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(e.to_string()),
        }
    }

    // Until every released job is at its printer and `printed` in the database.
    let limit = Duration::from_secs(60) + run.interval * run.jobs.len() as u32;
    let waited = Instant::now();
    loop {
        let arrived: std::collections::HashSet<String> = run
            .floor
            .connections
            .lock()
            .unwrap()
            .iter()
            .filter_map(Connection::job_name)
            .collect();
        let printed = watched
            .lock()
            .unwrap()
            .values()
            .filter(|at| at.is_some())
            .count();
        let at_printers = released
            .iter()
            .filter(|r| arrived.contains(&r.job.name))
            .count();
        if at_printers == released.len() && printed == released.len() {
            break;
        }
        if waited.elapsed() > limit {
            errors.push(format!(
                "{}: after {limit:?}, {at_printers} of {} released jobs reached their printer and {printed} are `printed` in the database",
                run.label,
                released.len()
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    watching.store(false, Ordering::SeqCst);
    let _ = watcher.await;
    let server_cpu = cpu_secs(Some(server_pid), true) - server_before;
    let agent_cpu = agent_pid
        .zip(agent_before)
        .map(|(pid, before)| cpu_secs(Some(pid), true) - before);
    let others = others_cpu(&machine_before, &all_processes_cpu(), &ours);
    let counts_after = server_counts(run.base).await;
    let busy = busy_watch.await.unwrap_or_default();
    let printed_at: HashMap<i64, Instant> = watched
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(id, at)| at.map(|at| (*id, at)))
        .collect();
    let wall = match (
        released.iter().map(|r| r.t0).min(),
        printed_at.values().max(),
    ) {
        (Some(first), Some(last)) => ms(first, *last) / 1e3,
        _ => f64::NAN,
    };
    Phase {
        label: run.label,
        how: run.how,
        released,
        printed_at,
        wall,
        server_cpu,
        agent_cpu,
        others_cpu: others,
        server: memory(server_pid),
        agent: agent_pid.map(memory),
        hwm_reset,
        counts: count_diff(&counts_before, &counts_after),
        busy,
        errors,
    }
}

fn empty_phase(label: &'static str, how: String, errors: Vec<String>) -> Phase {
    Phase {
        label,
        how,
        released: Vec::new(),
        printed_at: HashMap::new(),
        wall: f64::NAN,
        server_cpu: 0.0,
        agent_cpu: None,
        others_cpu: 0.0,
        server: Memory::default(),
        agent: None,
        hwm_reset: false,
        counts: None,
        busy: Vec::new(),
        errors,
    }
}

/// Per job, ms from t0: POST answered, connection accepted, first byte, last byte,
/// printed in the database.
#[derive(Default)]
struct Latencies {
    answered: Vec<f64>,
    accepted: Vec<f64>,
    first_byte: Vec<f64>,
    last_byte: Vec<f64>,
    printed: Vec<f64>,
}

fn latencies(phase: &Phase, arrivals: &HashMap<String, Vec<Connection>>) -> Latencies {
    let mut l = Latencies::default();
    for r in &phase.released {
        l.answered.push(ms(r.t0, r.answered));
        if let Some(c) = arrivals.get(&r.job.name).and_then(|c| c.first()) {
            l.accepted.push(ms(r.t0, c.accepted_at));
            if let (Some(first), Some(last)) = (c.first_byte_at, c.last_byte_at) {
                l.first_byte.push(ms(r.t0, first));
                l.last_byte.push(ms(r.t0, last));
            }
        }
        if let Some(at) = phase.printed_at.get(&r.release_id) {
            l.printed.push(ms(r.t0, *at));
        }
    }
    l
}

// ---------------------------------------------------------------------------------
// Figures

fn pct_of_core(cpu: f64, secs: f64) -> f64 {
    cpu / secs.max(1e-9) * 100.0
}

fn print_idle(idle: &Idle) {
    println!(
        "\n{} ({:.1} s){}",
        idle.label,
        idle.secs,
        if idle.others_cpu > 0.2 * idle.secs {
            format!(
                " — other processes used {:.1} s of CPU meanwhile: the machine was busy",
                idle.others_cpu
            )
        } else {
            format!(
                " — other processes used {:.2} s of CPU meanwhile",
                idle.others_cpu
            )
        }
    );
    println!(
        "  {:<8} {:>8} {:>10} {:>10} {:>12} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "process",
        "CPU s",
        "% of core",
        "VmRSS",
        "RSS min–max",
        "VmHWM",
        "RssAnon",
        "RssFile",
        "threads",
        "sockets"
    );
    let row = |name: &str, cpu: f64, m: &Memory, range: Option<(u64, u64)>, hwm: bool| {
        println!(
            "  {:<8} {:>8.3} {:>9.2}% {:>10} {:>12} {:>10} {:>10} {:>10} {:>8} {:>8}",
            name,
            cpu,
            pct_of_core(cpu, idle.secs),
            mib(m.rss),
            range
                .map(|(a, b)| format!("{:.1}–{:.1}", a as f64 / 1024.0, b as f64 / 1024.0))
                .unwrap_or_else(|| "-".into()),
            if hwm {
                mib(m.hwm)
            } else {
                format!("{}*", mib(m.hwm))
            },
            mib(m.anon),
            mib(m.file),
            m.threads
                .map(|t| t.to_string())
                .unwrap_or_else(|| "?".into()),
            m.sockets
        );
    };
    if let (Some(cpu), Some(m)) = (idle.agent_cpu, &idle.agent) {
        row("agent", cpu, m, idle.agent_rss_range, idle.hwm_reset);
    }
    row(
        "server",
        idle.server_cpu,
        &idle.server,
        None,
        idle.hwm_reset,
    );
    println!(
        "  the server answered: {}",
        describe_counts(&idle.counts, None)
    );
    if !idle.agent_smaps.is_empty() {
        let pss: u64 = idle.agent_smaps.iter().map(|m| m.2).sum();
        let top: Vec<String> = idle
            .agent_smaps
            .iter()
            .take(5)
            .map(|(name, rss, _)| format!("{name} {:.1}", *rss as f64 / 1024.0))
            .collect();
        println!(
            "  the agent's resident memory by mapping, MiB (r-xp: code, r--p: read-only data, rw-p: data): {}; Pss in all {}",
            top.join(", "),
            mib(Some(pss))
        );
    }
}

fn print_phases(phases: &[&Phase], arrivals: &HashMap<String, Vec<Connection>>) {
    let ls: Vec<Latencies> = phases.iter().map(|p| latencies(p, arrivals)).collect();
    println!();
    for p in phases {
        println!("{}: {}", p.label, p.how);
    }
    let head = |label: &str| format!("{label:^39}");
    print!("\n  {:<48}", "");
    for p in phases {
        print!("|{}", head(p.label));
    }
    println!();
    print!("  {:<48}", "ms from t0 (just before the release POST)");
    for _ in phases {
        print!("|{:>9}{:>9}{:>9}{:>9}   ", "p50", "p90", "p99", "max");
    }
    println!();
    type Pick = fn(&Latencies) -> &Vec<f64>;
    let rows: [(&str, Pick); 5] = [
        ("release POST answered", |l| &l.answered),
        ("connection accepted at the printer", |l| &l.accepted),
        ("FIRST BYTE at the printer", |l| &l.first_byte),
        ("last byte at the printer", |l| &l.last_byte),
        ("`printed` in the database (5 ms poll)", |l| &l.printed),
    ];
    for (what, pick) in rows {
        print!("  {what:<48}");
        for l in &ls {
            let v = pick(l);
            print!(
                "|{:>9.1}{:>9.1}{:>9.1}{:>9.1}   ",
                percentile(v, 50.0),
                percentile(v, 90.0),
                percentile(v, 99.0),
                percentile(v, 100.0)
            );
        }
        println!();
    }
    print!("  {:<48}", "jobs measured (first byte / printed)");
    for (p, l) in phases.iter().zip(&ls) {
        print!(
            "|{:>39}",
            format!(
                "{} / {} of {}   ",
                l.first_byte.len(),
                l.printed.len(),
                p.released.len()
            )
        );
    }
    println!();
    print!("  {:<48}", "first release → last printed");
    for p in phases {
        print!("|{:>39}", format!("{:.2} s   ", p.wall));
    }
    println!();
    let cpu_cell = |cpu: Option<f64>, p: &Phase| match cpu {
        Some(cpu) => format!(
            "{cpu:.2} s, {:.1} ms/job, {:.0}% of a core   ",
            cpu * 1e3 / p.released.len().max(1) as f64,
            pct_of_core(cpu, p.wall)
        ),
        None => "-   ".into(),
    };
    print!("  {:<48}", "agent CPU (first release → last printed)");
    for p in phases {
        print!("|{:>39}", cpu_cell(p.agent_cpu, p));
    }
    println!();
    print!("  {:<48}", "server CPU");
    for p in phases {
        print!("|{:>39}", cpu_cell(Some(p.server_cpu), p));
    }
    println!();
    print!("  {:<48}", "other processes' CPU meanwhile");
    for p in phases {
        print!("|{:>39}", format!("{:.2} s   ", p.others_cpu));
    }
    println!();
    print!("  {:<48}", "agent VmRSS after / VmHWM during");
    for p in phases {
        let cell = match &p.agent {
            Some(m) => format!(
                "{} / {}{}   ",
                mib(m.rss),
                mib(m.hwm),
                if p.hwm_reset { "" } else { "*" }
            ),
            None => "-   ".into(),
        };
        print!("|{cell:>39}");
    }
    println!();
    print!("  {:<48}", "server VmRSS after / VmHWM during");
    for p in phases {
        print!(
            "|{:>39}",
            format!(
                "{} / {}{}   ",
                mib(p.server.rss),
                mib(p.server.hwm),
                if p.hwm_reset { "" } else { "*" }
            )
        );
    }
    println!();
    for p in phases {
        println!(
            "  {} — the server answered per job: {}",
            p.label,
            describe_counts(&p.counts, Some(p.released.len().max(1) as f64))
        );
    }
}

/// Other processes' CPU seconds in the busiest second overlapping `from`..`to`.
fn busiest(busy: &[(Instant, f64)], from: Instant, to: Instant) -> f64 {
    busy.iter()
        .filter(|(end, _)| *end >= from && *end <= to + Duration::from_secs(1))
        .map(|(_, cpu)| *cpu)
        .fold(0.0, f64::max)
}

/// The slowest jobs of a phase by first byte, and how busy the machine was then.
fn print_slowest(phase: &Phase, arrivals: &HashMap<String, Vec<Connection>>, printers: usize) {
    let Some(start) = phase.released.iter().map(|r| r.t0).min() else {
        return;
    };
    let mut rows: Vec<(f64, &Released)> = phase
        .released
        .iter()
        .filter_map(|r| {
            let first = arrivals.get(&r.job.name)?.first()?.first_byte_at?;
            Some((ms(r.t0, first), r))
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let seconds: Vec<f64> = phase.busy.iter().map(|b| b.1).collect();
    println!(
        "  {} — slowest first bytes (other processes' CPU per second over the phase: median {:.2}, max {:.2} s):",
        phase.label,
        percentile(&seconds, 50.0),
        percentile(&seconds, 100.0)
    );
    for (first_byte, r) in rows.iter().take(5) {
        let k: usize = r.job.name[r.job.name.find('-').map_or(0, |i| i + 1)..]
            .trim_end_matches(".pdf")
            .parse()
            .unwrap_or(0);
        println!(
            "    {} (printer {}, its job {}), +{:.2} s: POST answered {:.1} ms, first byte {first_byte:.1} ms, printed {}; other processes' CPU in that second {:.2} s",
            r.job.name,
            r.job.slot,
            k / printers + 1,
            ms(start, r.t0) / 1e3,
            ms(r.t0, r.answered),
            phase
                .printed_at
                .get(&r.release_id)
                .map(|at| format!("{:.1} ms", ms(r.t0, *at)))
                .unwrap_or_else(|| "-".into()),
            busiest(
                &phase.busy,
                r.t0,
                r.t0 + Duration::from_secs_f64(first_byte / 1e3)
            ),
        );
    }
}

/// Wall-clock seconds of an instant, to line the CSV up with other tools' traces.
fn unix_secs(at: Instant) -> f64 {
    static REFERENCE: OnceLock<(Instant, std::time::SystemTime)> = OnceLock::new();
    let (instant, wall) = *REFERENCE.get_or_init(|| (Instant::now(), std::time::SystemTime::now()));
    let base = wall
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    if at >= instant {
        base + (at - instant).as_secs_f64()
    } else {
        base - (instant - at).as_secs_f64()
    }
}

fn write_csv(path: &Path, phases: &[&Phase], arrivals: &HashMap<String, Vec<Connection>>) {
    let mut out = String::from(
        "phase,job,printer,t0_unix,t0_s,answered_ms,accepted_ms,first_byte_ms,last_byte_ms,printed_ms,others_cpu_s\n",
    );
    let cell = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
    for phase in phases {
        let Some(start) = phase.released.iter().map(|r| r.t0).min() else {
            continue;
        };
        for r in &phase.released {
            let c = arrivals.get(&r.job.name).and_then(|c| c.first());
            let first = c.and_then(|c| c.first_byte_at);
            out.push_str(&format!(
                "{},{},{},{:.6},{:.3},{:.3},{},{},{},{},{:.3}\n",
                phase.label,
                r.job.name,
                r.job.slot,
                unix_secs(r.t0),
                ms(start, r.t0) / 1e3,
                ms(r.t0, r.answered),
                cell(c.map(|c| ms(r.t0, c.accepted_at))),
                cell(first.map(|f| ms(r.t0, f))),
                cell(c.and_then(|c| c.last_byte_at).map(|l| ms(r.t0, l))),
                cell(phase.printed_at.get(&r.release_id).map(|p| ms(r.t0, *p))),
                busiest(&phase.busy, r.t0, first.unwrap_or(r.answered)),
            ));
        }
    }
    match std::fs::write(path, out) {
        Ok(()) => println!("Per job timings written to {}", path.display()),
        Err(e) => println!("Could not write {}: {e}", path.display()),
    }
}

// ---------------------------------------------------------------------------------

fn main() {
    let opts = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let failed = runtime.block_on(run(opts));
    if failed {
        std::process::exit(1);
    }
}

/// True when a check failed.
async fn run(opts: Options) -> bool {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    unix_secs(Instant::now());
    let dir = tempfile::Builder::new()
        .prefix("pp-bench-agent-")
        .tempdir()
        .expect("temp dir");
    let n = opts.printers;
    println!(
        "PrintPark on-site agent benchmark: {}; load average {} at the start; SQLite, local disk; fsync (4 KiB, temp dir) p50 {:.2} ms",
        machine(),
        load_average(),
        fsync_ms(dir.path()),
    );
    println!(
        "{n} printers served by the agent + {n} pushed to by the server, each a raw TCP listener on 127.0.0.1 in this process; \
         {} jobs per side (document-a4.pdf + a unique line), one release every {:.0} ms, round-robin",
        opts.jobs,
        opts.interval.as_secs_f64() * 1e3
    );
    println!(
        "Agent periods (from the code): heartbeat every {HEARTBEAT_SECS} s, Get-Notifications held up to {} s per printer, \
         printer state reported every {AGENT_REPORT_SECS} s (after the poll under way)",
        LONGEST_WAIT.as_secs()
    );

    let printers = start_raw_printers(2 * n).await;
    let prepared_at = Instant::now();
    let Prepared {
        services,
        admin,
        user,
        agent_printers,
        push_printers,
        phases: parked,
        expected,
    } = prepare(dir.path(), &opts, &printers.ports).await;
    eprintln!(
        "  prepared: {} printers, {} jobs parked in {:.1} s",
        2 * n,
        2 * opts.jobs,
        prepared_at.elapsed().as_secs_f64()
    );

    let port = free_port();
    let base = format!("https://127.0.0.1:{port}");
    let mut server = match start_server(
        dir.path(),
        port,
        max_held(&opts),
        "printpark serve",
        Duration::from_secs(90),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    println!(
        "Server: `printpark serve` (pid {}), default settings, log level warn; binary {}",
        server.pid(),
        env!("CARGO_BIN_EXE_printpark")
    );
    let mut idles = Vec::new();
    tokio::time::sleep(Duration::from_secs(2)).await;
    if opts.baseline_secs > 0.0 {
        idles.push(
            idle_window(
                &format!(
                    "Idle, the server alone ({n} push printers, {n} agent printers, no agent yet)"
                ),
                opts.baseline_secs,
                &server,
                None,
                &base,
            )
            .await,
        );
        eprintln!("  done: idle without the agent");
    }

    // The agent: enrol, assign, approve, wait for its printers.
    let client = ClientInfo::default();
    let infra = services.release.infra();
    let code = infra
        .new_enrolment_code(&admin, &client)
        .await
        .expect("enrolment code");
    let agent_started = Instant::now();
    let mut agent = start_agent(dir.path(), &base, &code).unwrap_or_else(|e| panic!("{e}"));
    let agent_id = loop {
        if let Some(row) = services.db.agents().await.expect("agents").first() {
            break row.id;
        }
        if let Some(status) = agent.exited() {
            panic!("the agent exited ({status}):\n{}", agent.log_tail());
        }
        if agent_started.elapsed() > Duration::from_secs(30) {
            panic!("the agent did not enrol in 30 s:\n{}", agent.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let enrolled_in = agent_started.elapsed();
    for printer in &agent_printers {
        infra
            .assign_printer(&admin, agent_id, printer.id, &client)
            .await
            .expect("assign printer");
    }
    let approved_at = printpark::clock::now();
    let approved = Instant::now();
    infra
        .approve_agent(
            &admin,
            agent_id,
            "",
            &printpark::release::AgentTrust::default(),
            &client,
        )
        .await
        .expect("approve agent");
    loop {
        let devices = services
            .db
            .output_devices_of_agent(agent_id)
            .await
            .expect("devices of the agent");
        let registered = devices
            .iter()
            .filter(|d| d.device_uuid.is_some() && d.last_seen_at.is_some_and(|t| t >= approved_at))
            .count();
        if registered == n {
            break;
        }
        if let Some(status) = agent.exited() {
            panic!("the agent exited ({status}):\n{}", agent.log_tail());
        }
        if approved.elapsed() > Duration::from_secs(90) {
            panic!(
                "{registered} of {n} printers registered by the agent 90 s after its approval:\n{}",
                agent.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready_in = approved.elapsed();
    // What the agent's heartbeat hands it: each printer's output-device credential.
    let agent_row = services.db.agent_by_id(agent_id).await.expect("agent row");
    let assignment = infra
        .heartbeat(&agent_row, &Default::default(), &client)
        .await
        .expect("assignment");
    let credentials: HashMap<String, (String, String)> = assignment
        .printers
        .iter()
        .map(|p| {
            (
                p.guid.clone(),
                (p.device_login.clone(), p.device_secret.clone()),
            )
        })
        .collect();
    println!(
        "Agent: `printpark agent` (pid {}), log level warn; enrolled {:.2} s after its start; \
         all {n} printers registered {:.2} s after the approval (the agent asks every 3 s while it waits)",
        agent.pid(),
        enrolled_in.as_secs_f64(),
        ready_in.as_secs_f64()
    );
    // Subscriptions made, first long polls under way.
    tokio::time::sleep(Duration::from_secs(3)).await;
    idles.push(
        idle_window(
            &format!("Idle, the agent with {n} printers assigned, nothing released"),
            opts.idle_secs,
            &server,
            Some(&agent),
            &base,
        )
        .await,
    );
    eprintln!("  done: agent idle");

    // Load.
    let panels: Vec<Arc<Panel>> = agent_printers
        .iter()
        .map(|p| {
            let (login, secret) = credentials
                .get(&p.guid)
                .cloned()
                .unwrap_or_else(|| panic!("no credential for {} in the assignment", p.name));
            Arc::new(Panel {
                client: insecure_client(),
                base: base.clone(),
                login,
                secret,
                token: Mutex::new(String::new()),
            })
        })
        .collect();
    let per_printer = opts.interval * n as u32;
    let agent_phase = run_phase(PhaseRun {
        label: "through the agent",
        how: format!(
            "released with the output-device app API, delivered by `printpark agent` (IPP INFRA from the server, raw to the printer); \
             each printer gets a job every {:.2} s",
            per_printer.as_secs_f64()
        ),
        jobs: &parked[0],
        releaser: &Releaser::Panels(panels),
        interval: opts.interval,
        services: &services,
        user: &user,
        floor: &printers.floor,
        server: &server,
        agent: Some(&agent),
        base: &base,
    })
    .await;
    eprintln!("  done: agent phase");
    let push_phase = if opts.push {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stations = push_printers
            .iter()
            .map(|p| Arc::new(Station::new(&base, &p.guid)))
            .collect();
        let phase = run_phase(PhaseRun {
            label: "server push (baseline)",
            how: format!(
                "released at each printer's release station (form POST, one job ticked), pushed raw by the server's own workers; \
                 each printer gets a job every {:.2} s; the agent stays connected",
                per_printer.as_secs_f64()
            ),
            jobs: &parked[1],
            releaser: &Releaser::Stations(stations),
            interval: opts.interval,
            services: &services,
            user: &user,
            floor: &printers.floor,
            server: &server,
            agent: Some(&agent),
            base: &base,
        })
        .await;
        eprintln!("  done: push phase");
        Some(phase)
    } else {
        None
    };
    if opts.after_secs > 0.0 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        idles.push(
            idle_window(
                "Idle again after the load",
                opts.after_secs,
                &server,
                Some(&agent),
                &base,
            )
            .await,
        );
    }

    // ---- Checks: every job once, intact, at its own printer; every release printed.
    let connections = printers.floor.connections.lock().unwrap().clone();
    let mut arrivals: HashMap<String, Vec<Connection>> = HashMap::new();
    let mut strays = Vec::new();
    let mut probes = [0usize; 2];
    for c in &connections {
        if c.bytes.is_empty() {
            probes[usize::from(c.printer >= n)] += 1;
            continue;
        }
        match c.job_name().filter(|name| expected.contains_key(name)) {
            Some(name) => arrivals.entry(name).or_default().push(c.clone()),
            None => strays.push(format!(
                "printer {}: {} bytes that are none of the bench's jobs{}",
                c.printer,
                c.bytes.len(),
                c.error
                    .as_ref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )),
        }
    }
    let mut failures: Vec<String> = Vec::new();
    let mut phases: Vec<&Phase> = vec![&agent_phase];
    if let Some(p) = &push_phase {
        phases.push(p);
    }
    for phase in &phases {
        failures.extend(phase.errors.iter().map(|e| format!("{}: {e}", phase.label)));
    }
    let mut intact = [0usize; 2];
    let mut doubled = 0;
    for (index, phase) in phases.iter().enumerate() {
        for r in &phase.released {
            let want = &expected[&r.job.name];
            let got = arrivals.get(&r.job.name).map(Vec::as_slice).unwrap_or(&[]);
            if got.len() > 1 {
                doubled += 1;
                failures.push(format!(
                    "{} reached a printer {} times",
                    r.job.name,
                    got.len()
                ));
            }
            match got.first() {
                None => failures.push(format!("{} never reached a printer", r.job.name)),
                Some(c) => {
                    let ok = c.printer == want.printer
                        && c.bytes.len() == want.len
                        && <[u8; 32]>::from(Sha256::digest(&c.bytes)) == want.sha256
                        && c.error.is_none();
                    if ok {
                        intact[index] += 1;
                    } else {
                        failures.push(format!(
                            "{}: {} bytes at printer {} (wanted {} bytes at printer {}){}",
                            r.job.name,
                            c.bytes.len(),
                            c.printer,
                            want.len,
                            want.printer,
                            c.error
                                .as_ref()
                                .map(|e| format!(", {e}"))
                                .unwrap_or_default()
                        ));
                    }
                }
            }
        }
        let missing = parked[index].len() - phase.released.len();
        if missing > 0 {
            failures.push(format!(
                "{}: {missing} of {} jobs were not released",
                phase.label,
                parked[index].len()
            ));
        }
    }
    failures.extend(strays.iter().cloned());
    let mut db_printed = [0usize; 2];
    let mut protocols: [BTreeMap<String, usize>; 2] = Default::default();
    for (index, phase) in phases.iter().enumerate() {
        for r in &phase.released {
            match services.db.release_by_id(r.release_id).await {
                Ok(row) if row.state == printpark::release::ReleaseState::Printed => {
                    db_printed[index] += 1;
                    *protocols[index].entry(row.protocol.clone()).or_default() += 1;
                }
                Ok(row) => failures.push(format!(
                    "release {} ({}): {} ({})",
                    r.release_id, r.job.name, row.state, row.reason
                )),
                Err(e) => failures.push(format!("release {}: {e}", r.release_id)),
            }
        }
    }
    let held_left = services
        .jobs
        .held_jobs_of(&user)
        .await
        .map(|j| j.len())
        .unwrap_or(0);
    let expected_held = if opts.push { 0 } else { opts.jobs };
    if held_left != expected_held {
        failures.push(format!(
            "{held_left} jobs still held at the end ({expected_held} expected)"
        ));
    }

    // Stop the agent (it deregisters its printers) and the server; their logs.
    let counts_before_stop = server_counts(&base).await;
    let agent_stop = agent.terminate(Duration::from_secs(90));
    let deregistered = count_diff(&counts_before_stop, &server_counts(&base).await)
        .and_then(|c| c.infra.get("Deregister-Output-Device").copied())
        .unwrap_or(0);
    let agent_log = agent.log_lines();
    let server_exited = server.exited();
    let server_log = server.log_lines();
    if let Some(status) = server_exited {
        failures.push(format!("the server exited during the run ({status})"));
    }

    // ---- Figures
    for idle in &idles {
        print_idle(idle);
    }
    if idles.iter().any(|i| !i.hwm_reset) || phases.iter().any(|p| !p.hwm_reset) {
        println!("  (* VmHWM since the process started: /proc/PID/clear_refs was not writable)");
    }
    print_phases(&phases, &arrivals);
    for phase in &phases {
        print_slowest(phase, &arrivals, n);
    }
    if let Some(path) = &opts.csv {
        write_csv(path, &phases, &arrivals);
    }
    println!(
        "\nAt the printers: {} connections with bytes, {} without (probes) at the agent's printers, {} without at the push printers \
         (the server checks a push printer with a TCP connect before each release)",
        connections.iter().filter(|c| !c.bytes.is_empty()).count(),
        probes[0],
        probes[1],
    );
    for (index, phase) in phases.iter().enumerate() {
        println!(
            "  {}: {}/{} jobs at their own printer, byte-identical, once; {}/{} `printed` in the database; protocol recorded: {:?}",
            phase.label,
            intact[index],
            parked[index].len(),
            db_printed[index],
            parked[index].len(),
            protocols[index],
        );
    }
    println!(
        "Checks: {} failures ({doubled} jobs at a printer more than once, {} stray connections), {held_left} jobs still held; \
         log lines at warn or above: agent {}, server {}",
        failures.len(),
        strays.len(),
        agent_log.len(),
        server_log.len()
    );
    for f in failures.iter().take(20) {
        println!("  FAILED: {f}");
    }
    for line in agent_log.iter().take(10) {
        println!("  agent log: {line}");
    }
    for line in server_log.iter().take(10) {
        println!("  server log: {line}");
    }
    match agent_stop {
        Some((took, status)) => println!(
            "Agent stopped {:.2} s after SIGTERM ({status}); the server answered {deregistered} Deregister-Output-Device meanwhile",
            took.as_secs_f64()
        ),
        None => {
            println!("Agent: did not stop on SIGTERM within 90 s (killed), or had exited before")
        }
    }

    // ---- The aims
    let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };
    let agent_l = latencies(&agent_phase, &arrivals);
    let p99 = percentile(&agent_l.first_byte, 99.0);
    let complete = agent_l.first_byte.len() == opts.jobs;
    println!(
        "\naim: release → first byte at the printer through the agent, p99 < {AIM_P99_MS:.0} ms: {} (p99 {p99:.1} ms, p50 {:.1} ms, over {} jobs{})",
        verdict(complete && p99 < AIM_P99_MS),
        percentile(&agent_l.first_byte, 50.0),
        agent_l.first_byte.len(),
        push_phase
            .as_ref()
            .map(|p| {
                let l = latencies(p, &arrivals);
                format!(
                    "; server push: p99 {:.1} ms, p50 {:.1} ms",
                    percentile(&l.first_byte, 99.0),
                    percentile(&l.first_byte, 50.0)
                )
            })
            .unwrap_or_default()
    );
    if let Some(idle) = idles.iter().find(|i| i.agent.is_some()) {
        let max_rss = idle
            .agent_rss_range
            .map(|(_, max)| max as f64 / 1024.0)
            .unwrap_or(f64::NAN);
        println!(
            "aim: agent idle RSS < {AIM_IDLE_RSS_MIB:.0} MiB with {n} printers: {} (VmRSS at most {max_rss:.1} MiB over {:.0} s, VmHWM {}; \
             idle CPU {:.2} % of one core)",
            verdict(max_rss < AIM_IDLE_RSS_MIB),
            idle.secs,
            mib(idle.agent.as_ref().and_then(|m| m.hwm)),
            pct_of_core(idle.agent_cpu.unwrap_or(f64::NAN), idle.secs)
        );
    }
    println!("load average at the end: {}", load_average());

    drop(server);
    drop(agent);
    drop(printers);
    drop(services);
    !failures.is_empty()
}
