//! IPP INFRA at scale: 50 output devices long-polling Get-Notifications while 500 jobs
//! are released across their printers. Measures the time from a release to the
//! device's Fetch-Job (p50/p90/p99/max), and the server's CPU and memory while idle
//! with the devices connected (no busy polling: an idle device should cost one
//! request per 25 s hold and nothing in between).
//!
//! Run: `cargo bench --bench infra` (about 2½ minutes after the build). Options,
//! after `--`: `--devices N` (50; one printer each), `--jobs N` (500 per load phase),
//! `--users N` (10), `--idle-secs S` (30, the window with every device connected),
//! `--baseline-secs S` (10, the windows with no device and after the load),
//! `--spread-secs S` (10, how long the spread phase releases for), `--no-burst`,
//! `--ippproxy-pacing` (devices sleep `notify-get-interval` after every
//! Get-Notifications answer, as the reference proxy `ippproxy` does, and fetch jobs in
//! a second task per device, like its job thread).
//!
//! What it does:
//! - prepares a temporary data dir with the library, in this process (`Services::start`
//!   on it, nothing else started): an admin, `--users` users with a PIN, `--devices`
//!   printers with delivery `infra`, one output device enrolled for each
//!   (`infra().add_device`: login + secret), and the jobs of both load phases parked
//!   (the bytes of `tests/fixtures/documents/document-a4.pdf`, each with a unique
//!   comment line after `%%EOF`, so every document is distinct and checkable);
//! - starts the real `printpark serve` as a child process on that data dir (SQLite,
//!   local disk, its self-signed certificate, DNS-SD off, a free loopback port), so
//!   its CPU time (/proc/PID/stat) and memory (VmRSS, VmHWM) are the server's alone;
//! - runs `--devices` simulated output devices in this process, each with its own
//!   reqwest client (so its own keep-alive TLS connection), following the reference
//!   proxy's order: Register-Output-Device on `/ipp/system` (the printer URI is the
//!   `xri-uri` of the answer), Create-Printer-Subscriptions (ippget, job-fetchable),
//!   Get-Jobs which-jobs=fetchable once, then Get-Notifications with notify-wait=true
//!   and the next sequence number, again at once after each answer. For each new
//!   job-fetchable event: Fetch-Job, Acknowledge-Job, Fetch-Document (body read to the
//!   end, checked byte for byte against what was parked), Update-Job-Status with
//!   output-device-job-state 9 (completed). A device does one job at a time, between
//!   two Get-Notifications (ippproxy fetches in a second thread; here the jobs of one
//!   answer wait for each other, which shows in "Fetch-Job sent" but not in "event";
//!   with `--ippproxy-pacing` a second task per device fetches, as ippproxy does);
//! - idle: the server alone for `--baseline-secs`, then with every device in its
//!   long poll for `--idle-secs`: CPU % of one core, RSS, requests the devices sent
//!   (and the INFRA requests the server counted in `/metrics`);
//! - releases through the output-device app API (`POST /api/v1/output-device/release`
//!   with the device's credentials and a person's session from
//!   `POST /api/v1/output-device/session` with login + PIN; sign-in not timed), one
//!   panel client per printer. t0 = just before the release POST is sent. Two phases:
//!   "spread", one job per call, one call every `--spread-secs`/`--jobs` (20 ms),
//!   round-robin over the printers; "burst", one call per printer with its share of
//!   the jobs, all fired at the same instant;
//! - per job: t0 → the Get-Notifications answer with its job-fetchable event arrived
//!   at the device; → Fetch-Job sent; → Update-Job-Status(completed) answered; and
//!   each of the device's four requests on its own (sent → answer read). Every
//!   release must end `printed` in the database (checked through the library at the
//!   end) and every document must arrive once, intact, at its own printer's device;
//! - the server's CPU over each phase, the CPU every other process on the machine
//!   used meanwhile (the machine is shared with builds; a busy machine is shown, not
//!   hidden), and a last idle window after the load.
//!
//! The devices and the release panels share this process (and the machine's cores)
//! with nothing else; the server's figures are its own process's (plus any children it
//! reaped; none here, as nothing is parked through the server).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark that cannot go on stops with the reason"
)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use printpark::config::Settings;
use printpark::identity::{ClientInfo, NewUserRequest, User};
use printpark::ipp::client::new_request;
use printpark::ipp::op;
use printpark::ipp::wire::{self, Attribute, Group, Limits, Message, Value, group};
use printpark::release::PrinterForm;
use printpark::services::Services;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;
use common::{
    Process, all_processes_cpu, cpu_secs, create_admin, error_chain, free_port, fsync_ms,
    insecure_client, machine, mib, ms, others_cpu, percentile, portal_pdf, proc_status_kib,
    reset_peak, sockets, start_server,
};

/// Longest Get-Notifications hold of the server (`release::pull::LONGEST_WAIT`).
const HOLD_SECS: f64 = 25.0;
/// Idle CPU below this share of one core counts as "near zero".
const NEAR_ZERO_PCT: f64 = 1.0;
const RESPONSE_LIMITS: Limits = Limits {
    max_bytes: 4 * 1024 * 1024,
    max_attributes: 100_000,
    max_depth: 16,
};

// ---------------------------------------------------------------------------------
// Options

struct Options {
    devices: usize,
    jobs: usize,
    users: usize,
    idle_secs: f64,
    baseline_secs: f64,
    spread_secs: f64,
    burst: bool,
    ippproxy_pacing: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let opts = Options {
        devices: value("--devices")
            .and_then(|s| s.parse().ok())
            .unwrap_or(50),
        jobs: value("--jobs").and_then(|s| s.parse().ok()).unwrap_or(500),
        users: value("--users").and_then(|s| s.parse().ok()).unwrap_or(10),
        idle_secs: value("--idle-secs")
            .and_then(|s| s.parse().ok())
            .unwrap_or(30.0),
        baseline_secs: value("--baseline-secs")
            .and_then(|s| s.parse().ok())
            .unwrap_or(10.0),
        spread_secs: value("--spread-secs")
            .and_then(|s| s.parse().ok())
            .unwrap_or(10.0),
        burst: !args.iter().any(|a| a == "--no-burst"),
        ippproxy_pacing: args.iter().any(|a| a == "--ippproxy-pacing"),
    };
    assert!(opts.devices >= 1 && opts.users >= 1 && opts.jobs >= 1);
    assert!(
        opts.users <= opts.devices,
        "--users must not exceed --devices (each printer has one user releasing at it)"
    );
    opts
}

// ---------------------------------------------------------------------------------
// The server's counters (the server process and the /proc readings are in common.rs)

/// The server's own count of answered INFRA requests (`/metrics`).
async fn server_infra_requests(base: &str) -> Option<u64> {
    let text = insecure_client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut total = 0.0;
    let mut seen = false;
    for line in text.lines() {
        if line.starts_with("printpark_infra_requests_total")
            && let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok())
        {
            total += v;
            seen = true;
        }
    }
    seen.then_some(total as u64)
}

// ---------------------------------------------------------------------------------
// Setup through the library (before the server starts)

#[derive(Clone, Copy)]
struct Expected {
    /// Index of the printer (and device) the job is released to.
    printer: usize,
    len: usize,
    sha256: [u8; 32],
}

/// One job parked for a load phase.
#[derive(Clone)]
struct Parked {
    job_id: i64,
    printer: usize,
}

struct Enrolled {
    guid: String,
    login: String,
    secret: String,
    /// Username and PIN of the person who releases at this printer.
    user: (String, String),
}

struct Prepared {
    services: Services,
    enrolled: Vec<Enrolled>,
    /// Per phase, in release order.
    phases: Vec<Vec<Parked>>,
    expected: HashMap<String, Expected>,
    users: Vec<User>,
}

fn settings(dir: &Path) -> Settings {
    let mut s = Settings {
        data_dir: dir.join("data"),
        ..Default::default()
    };
    s.log.level = "warn".into();
    s.dnssd.enabled = false;
    s.queue.analyser_exe = Some(PathBuf::from(env!("CARGO_BIN_EXE_printpark")));
    s
}

/// Every job of every phase is held at once before the first release.
fn max_held(opts: &Options, phases: usize) -> u32 {
    let per_user = (opts.jobs * phases).div_ceil(opts.users) as u32;
    (per_user + 10).max(Settings::default().queue.max_held_per_user)
}

fn user_name(u: usize) -> String {
    format!("bench{u:02}")
}

fn pin_of(u: usize) -> String {
    format!("{:06}", 482_916 + 7_919 * u)
}

fn job_name(phase: usize, k: usize) -> String {
    format!("infra-{phase}-{k:04}.pdf")
}

async fn prepare(dir: &Path, opts: &Options, phases: usize) -> Prepared {
    let mut settings = settings(dir);
    settings.queue.max_held_per_user = max_held(opts, phases);
    let services = Services::start(settings).await.expect("services start");
    let client = ClientInfo::default();
    let identity = &services.identity;
    let admin = create_admin(&services, &client).await;
    let mut users = Vec::new();
    for u in 0..opts.users {
        let password = format!("bench user {u} long password");
        let user = identity
            .create_user(
                None,
                &NewUserRequest {
                    username: user_name(u),
                    email: format!("{}@example.org", user_name(u)),
                    password: Some(password.clone()),
                    ..Default::default()
                },
                &client,
            )
            .await
            .expect("user");
        identity
            .set_own_pin(&user, &password, &pin_of(u), &client)
            .await
            .expect("PIN");
        users.push(user);
    }
    let mut enrolled = Vec::new();
    for p in 0..opts.devices {
        let printer = services
            .printers
            .add(
                &admin,
                &PrinterForm {
                    name: format!("Pull {p:03}"),
                    protocol: "infra".into(),
                    ..Default::default()
                },
                &client,
            )
            .await
            .expect("add infra printer");
        let device = services
            .release
            .infra()
            .add_device(&admin, printer.id, &format!("device {p:03}"), &client)
            .await
            .expect("enrol output device");
        let u = p % opts.users;
        enrolled.push(Enrolled {
            guid: printer.guid,
            login: device.login,
            secret: device.secret,
            user: (user_name(u), pin_of(u)),
        });
    }

    // Jobs: job k of a phase goes to printer k % devices, parked by that printer's
    // user. Parked concurrently per user, each user's jobs in release order.
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/documents/document-a4.pdf"
    ))
    .expect("tests/fixtures/documents/document-a4.pdf");
    let mut expected = HashMap::new();
    let mut plan: Vec<Vec<(usize, usize, String, Bytes)>> = vec![Vec::new(); opts.users];
    for phase in 0..phases {
        for k in 0..opts.jobs {
            let printer = k % opts.devices;
            let name = job_name(phase, k);
            let mut bytes = fixture.clone();
            bytes.extend_from_slice(format!("%PrintPark INFRA bench {name}\n").as_bytes());
            expected.insert(
                name.clone(),
                Expected {
                    printer,
                    len: bytes.len(),
                    sha256: Sha256::digest(&bytes).into(),
                },
            );
            plan[printer % opts.users].push((phase, k, name, Bytes::from(bytes)));
        }
    }
    let parking = plan.into_iter().enumerate().map(|(u, jobs)| {
        let services = services.clone();
        let user = users[u].clone();
        async move {
            let mut ids = Vec::new();
            for (phase, k, name, bytes) in jobs {
                let submission = portal_pdf(&name);
                let job = services
                    .jobs
                    .park(&user, &submission, &mut &bytes[..], &ClientInfo::default())
                    .await
                    .unwrap_or_else(|e| panic!("park {name}: {e}"));
                ids.push((phase, k, job.id));
            }
            ids
        }
    });
    let mut table: Vec<Vec<Option<i64>>> = vec![vec![None; opts.jobs]; phases];
    for ids in futures_util::future::join_all(parking).await {
        for (phase, k, id) in ids {
            table[phase][k] = Some(id);
        }
    }
    let phases = table
        .into_iter()
        .map(|jobs| {
            jobs.into_iter()
                .enumerate()
                .map(|(k, id)| Parked {
                    job_id: id.expect("every job parked"),
                    printer: k % opts.devices,
                })
                .collect()
        })
        .collect();
    Prepared {
        services,
        enrolled,
        phases,
        expected,
        users,
    }
}

// ---------------------------------------------------------------------------------
// The simulated output devices

/// One job as a device handled it.
#[derive(Clone, Debug)]
struct Fetched {
    device: usize,
    /// The Get-Notifications answer carrying its job-fetchable event arrived.
    event_at: Instant,
    fetch_sent: Instant,
    /// Answers to Fetch-Job, Acknowledge-Job, Fetch-Document (body read to the end).
    fetched_at: Instant,
    acknowledged_at: Instant,
    document_at: Instant,
    /// Update-Job-Status(completed) answered.
    printed_at: Instant,
    document_ok: bool,
}

/// What the devices share with the bench.
struct Hub {
    base: String,
    port: u16,
    expected: HashMap<String, Expected>,
    /// Release id (the job-id a device sees) → what its device did.
    fetched: Mutex<HashMap<i64, Fetched>>,
    /// Jobs a device processed twice (never expected).
    doubles: Mutex<Vec<i64>>,
    /// Requests sent to the server by all devices.
    requests: AtomicU64,
    /// Devices in their notification loop (first Get-Notifications sent).
    polling: AtomicUsize,
    /// notify-get-interval values in Get-Notifications answers (-1: absent) → count.
    intervals: Mutex<std::collections::BTreeMap<i32, u64>>,
    errors: Mutex<Vec<String>>,
}

impl Hub {
    fn error(&self, text: String) {
        let mut errors = self.errors.lock().unwrap();
        if errors.len() < 1000 {
            errors.push(text);
        }
    }
}

struct Device {
    index: usize,
    /// The printer this device was enrolled for.
    guid: String,
    login: String,
    secret: String,
    uuid: String,
    client: reqwest::Client,
    hub: Arc<Hub>,
    printer_uri: String,
    url: String,
}

fn find<'a>(message: &'a Message, name: &str) -> Option<&'a Attribute> {
    message.groups.iter().find_map(|g| g.get(name))
}

fn find_int(message: &Message, name: &str) -> Option<i32> {
    find(message, name)
        .and_then(|a| a.first())
        .and_then(Value::as_int)
}

fn status_text(message: &Message) -> String {
    match message.operation_str("status-message") {
        Some(text) if !text.is_empty() => format!("0x{:04x} ({text})", message.code),
        _ => format!("0x{:04x}", message.code),
    }
}

impl Device {
    /// POSTs an IPP request with the device's credentials; the answer (HTTP 200, IPP
    /// status below 0x0400) and the body bytes after it.
    async fn call(&self, url: &str, request: &Message) -> Result<(Message, Bytes), String> {
        self.hub.requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/ipp")
            .basic_auth(&self.login, Some(&self.secret))
            .timeout(Duration::from_secs(90))
            .body(wire::encode(request))
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| error_chain(&e))?;
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        let mut rest: &[u8] = &body;
        let message = wire::read_message(&mut rest, RESPONSE_LIMITS)
            .await
            .map_err(|e| format!("the answer is not IPP: {e}"))?;
        if message.code >= 0x0400 {
            return Err(status_text(&message));
        }
        let consumed = body.len() - rest.len();
        Ok((message, body.slice(consumed..)))
    }

    fn request(&self, operation: u16) -> Message {
        let mut request = new_request(operation, &self.printer_uri, &self.login);
        request.groups[0].push(Attribute::new("output-device-uuid", Value::uri(&self.uuid)));
        request
    }

    fn job_request(&self, operation: u16, job_id: i32) -> Message {
        let mut request = new_request(operation, &self.printer_uri, &self.login);
        request.groups[0].push(Attribute::new("job-id", Value::Integer(job_id)));
        request.groups[0].push(Attribute::new("output-device-uuid", Value::uri(&self.uuid)));
        request
    }

    async fn register(&mut self) -> Result<(), String> {
        let system_uri = format!("ipps://127.0.0.1:{}/ipp/system", self.hub.port);
        let mut request = new_request(op::REGISTER_OUTPUT_DEVICE, &system_uri, &self.login);
        for attribute in &mut request.groups[0].attributes {
            if attribute.name == "printer-uri" {
                *attribute = Attribute::new("system-uri", Value::uri(&system_uri));
            }
        }
        request.groups[0].push(Attribute::new("output-device-uuid", Value::uri(&self.uuid)));
        request.groups[0].push(Attribute::new(
            "printer-service-type",
            Value::keyword("print"),
        ));
        let url = format!("{}/ipp/system", self.hub.base);
        let (answer, _) = self
            .call(&url, &request)
            .await
            .map_err(|e| format!("Register-Output-Device: {e}"))?;
        let uri = find(&answer, "printer-xri-supported")
            .and_then(|xri| {
                xri.values.iter().find_map(|v| match v {
                    Value::Collection(members) => members
                        .iter()
                        .find(|m| m.name == "xri-uri")
                        .and_then(|m| m.first())
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    _ => None,
                })
            })
            .ok_or("the Register-Output-Device answer has no xri-uri")?;
        if !uri.ends_with(&format!("/ipp/infra/{}", self.guid)) {
            return Err(format!(
                "registered to {uri}, not to its own printer {}",
                self.guid
            ));
        }
        self.url = uri
            .strip_prefix("ipps://")
            .map(|rest| format!("https://{rest}"))
            .ok_or_else(|| format!("xri-uri {uri} is not ipps://"))?;
        self.printer_uri = uri;
        Ok(())
    }

    async fn subscribe(&self) -> Result<i32, String> {
        let mut request = self.request(op::CREATE_PRINTER_SUBSCRIPTIONS);
        let mut subscription = Group::new(group::SUBSCRIPTION);
        subscription.push(Attribute::new(
            "notify-pull-method",
            Value::keyword("ippget"),
        ));
        subscription.push(Attribute::new(
            "notify-events",
            Value::keyword("job-fetchable"),
        ));
        subscription.push(Attribute::new("notify-lease-duration", Value::Integer(0)));
        request.groups.push(subscription);
        let (answer, _) = self
            .call(&self.url, &request)
            .await
            .map_err(|e| format!("Create-Printer-Subscriptions: {e}"))?;
        find_int(&answer, "notify-subscription-id")
            .ok_or_else(|| "no notify-subscription-id in the answer".into())
    }

    async fn fetchable_jobs(&self) -> Result<Vec<i32>, String> {
        let mut request = self.request(op::GET_JOBS);
        request.groups[0].push(Attribute::new("which-jobs", Value::keyword("fetchable")));
        let (answer, _) = self
            .call(&self.url, &request)
            .await
            .map_err(|e| format!("Get-Jobs: {e}"))?;
        Ok(answer
            .groups
            .iter()
            .filter(|g| g.tag == group::JOB)
            .filter_map(|g| {
                g.get("job-id")
                    .and_then(|a| a.first())
                    .and_then(Value::as_int)
            })
            .collect())
    }

    /// Fetch-Job → Acknowledge-Job → Fetch-Document → Update-Job-Status(completed).
    async fn process(&self, job_id: i32, event_at: Instant) -> Result<(), String> {
        let fetch_sent = Instant::now();
        let (answer, _) = self
            .call(&self.url, &self.job_request(op::FETCH_JOB, job_id))
            .await
            .map_err(|e| format!("Fetch-Job {job_id}: {e}"))?;
        let fetched_at = Instant::now();
        let name = answer
            .group(group::JOB)
            .and_then(|g| g.get("job-name"))
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.call(&self.url, &self.job_request(op::ACKNOWLEDGE_JOB, job_id))
            .await
            .map_err(|e| format!("Acknowledge-Job {job_id}: {e}"))?;
        let acknowledged_at = Instant::now();
        let mut request = self.job_request(op::FETCH_DOCUMENT, job_id);
        request.groups[0].push(Attribute::new("document-number", Value::Integer(1)));
        request.groups[0].push(Attribute::new(
            "document-format-accepted",
            Value::mime("application/pdf"),
        ));
        let (_, document) = self
            .call(&self.url, &request)
            .await
            .map_err(|e| format!("Fetch-Document {job_id}: {e}"))?;
        let document_at = Instant::now();
        let document_ok = self.hub.expected.get(&name).is_some_and(|e| {
            e.printer == self.index
                && e.len == document.len()
                && e.sha256 == <[u8; 32]>::from(Sha256::digest(&document))
        });
        if !document_ok {
            self.hub.error(format!(
                "device {}: job {job_id} ({name:?}): {} bytes that are not what was parked for this printer",
                self.index,
                document.len()
            ));
        }
        let mut request = self.job_request(op::UPDATE_JOB_STATUS, job_id);
        let mut job = Group::new(group::JOB);
        job.push(Attribute::new("output-device-job-state", Value::Enum(9)));
        request.groups.push(job);
        self.call(&self.url, &request)
            .await
            .map_err(|e| format!("Update-Job-Status {job_id}: {e}"))?;
        let record = Fetched {
            device: self.index,
            event_at,
            fetch_sent,
            fetched_at,
            acknowledged_at,
            document_at,
            printed_at: Instant::now(),
            document_ok,
        };
        if self
            .hub
            .fetched
            .lock()
            .unwrap()
            .insert(i64::from(job_id), record)
            .is_some()
        {
            self.hub.doubles.lock().unwrap().push(i64::from(job_id));
        }
        Ok(())
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>, pacing: bool) {
        if let Err(e) = self.register().await {
            self.hub.error(format!("device {}: {e}", self.index));
            return;
        }
        let me = Arc::new(self);
        if let Err(e) = me.clone().notification_loop(&mut stop, pacing).await {
            me.hub.error(format!("device {}: {e}", me.index));
        }
    }

    /// Get-Notifications until stopped. Without `pacing`, asks again at once and
    /// processes the jobs of an answer itself before asking again. With `pacing`, as
    /// ippproxy does: sleeps `notify-get-interval` after every answer (30 s when it is
    /// absent, 0 or 3600 and more), and a second task fetches the jobs meanwhile
    /// (ippproxy's job thread, on a connection of its own).
    async fn notification_loop(
        self: Arc<Self>,
        stop: &mut watch::Receiver<bool>,
        pacing: bool,
    ) -> Result<(), String> {
        let subscription = self.subscribe().await?;
        let mut known = HashSet::new();
        let (queue, mut queued) = tokio::sync::mpsc::unbounded_channel::<(i32, Instant)>();
        let worker = pacing.then(|| {
            let me = self.clone();
            tokio::spawn(async move {
                while let Some((job_id, event_at)) = queued.recv().await {
                    if let Err(e) = me.process(job_id, event_at).await {
                        me.hub.error(format!("device {}: {e}", me.index));
                    }
                }
            })
        });
        let result = async {
            for job_id in self.fetchable_jobs().await? {
                known.insert(job_id);
                self.process(job_id, Instant::now()).await?;
            }
            let mut seq = 1;
            let mut first = true;
            while !*stop.borrow() {
                let mut request = self.request(op::GET_NOTIFICATIONS);
                let ops = &mut request.groups[0];
                ops.push(Attribute::new(
                    "notify-subscription-ids",
                    Value::Integer(subscription),
                ));
                ops.push(Attribute::new(
                    "notify-sequence-numbers",
                    Value::Integer(seq),
                ));
                ops.push(Attribute::new("notify-wait", Value::Boolean(true)));
                if std::mem::take(&mut first) {
                    self.hub.polling.fetch_add(1, Ordering::SeqCst);
                }
                let answer = tokio::select! {
                    answer = self.call(&self.url, &request) => answer,
                    _ = stop.changed() => return Ok(()),
                };
                let arrived = Instant::now();
                let answer = match answer {
                    Ok((answer, _)) => answer,
                    Err(e) => {
                        self.hub
                            .error(format!("device {}: Get-Notifications: {e}", self.index));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                *self
                    .hub
                    .intervals
                    .lock()
                    .unwrap()
                    .entry(find_int(&answer, "notify-get-interval").unwrap_or(-1))
                    .or_default() += 1;
                let mut jobs = Vec::new();
                for g in answer
                    .groups
                    .iter()
                    .filter(|g| g.tag == group::EVENT_NOTIFICATION)
                {
                    let int =
                        |name: &str| g.get(name).and_then(|a| a.first()).and_then(Value::as_int);
                    if let Some(s) = int("notify-sequence-number").filter(|s| *s >= seq) {
                        seq = s + 1;
                    }
                    let event = g
                        .get("notify-subscribed-event")
                        .and_then(|a| a.first())
                        .and_then(Value::as_str);
                    if event == Some("job-fetchable")
                        && let Some(id) = int("job-id").or(int("notify-job-id"))
                        && known.insert(id)
                    {
                        jobs.push(id);
                    }
                }
                for job_id in jobs {
                    if pacing {
                        let _ = queue.send((job_id, arrived));
                    } else if let Err(e) = self.process(job_id, arrived).await {
                        self.hub.error(format!("device {}: {e}", self.index));
                    }
                }
                if pacing {
                    let interval = match find_int(&answer, "notify-get-interval") {
                        Some(n) if n > 0 && n < 3600 => n as u64,
                        _ => 30,
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(interval)) => {}
                        _ = stop.changed() => return Ok(()),
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Some(worker) = worker {
            worker.abort();
        }
        result
    }
}

// ---------------------------------------------------------------------------------
// Release panels: the output-device app API

struct Panel {
    printer: usize,
    client: reqwest::Client,
    base: String,
    login: String,
    secret: String,
    user: (String, String),
    token: Mutex<String>,
}

impl Panel {
    async fn sign_in(&self) -> Result<(), String> {
        let answer = self
            .client
            .post(format!("{}/api/v1/output-device/session", self.base))
            .basic_auth(&self.login, Some(&self.secret))
            .json(&serde_json::json!({"login": self.user.0, "pin": self.user.1}))
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.map_err(|e| error_chain(&e))?;
        let token = body["token"].as_str().ok_or_else(|| {
            format!(
                "sign-in at printer {} answered {status}: {body}",
                self.printer
            )
        })?;
        *self.token.lock().unwrap() = token.to_owned();
        Ok(())
    }

    /// Releases the jobs to this panel's printer: the release ids, and t0 (just
    /// before the POST) and when its answer arrived.
    async fn release(&self, job_ids: &[i64]) -> Result<(Vec<i64>, Instant, Instant), String> {
        let token = self.token.lock().unwrap().clone();
        let request = self
            .client
            .post(format!("{}/api/v1/output-device/release", self.base))
            .basic_auth(&self.login, Some(&self.secret))
            .header("X-User-Session", token)
            .json(&serde_json::json!({ "job_ids": job_ids }));
        let t0 = Instant::now();
        let answer = request.send().await.map_err(|e| error_chain(&e))?;
        let status = answer.status();
        let body = answer.bytes().await.map_err(|e| error_chain(&e))?;
        let answered = Instant::now();
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let ids: Vec<i64> = parsed["job_ids"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_i64()).collect())
            .unwrap_or_default();
        if status != 200 || ids.len() != job_ids.len() {
            return Err(format!(
                "release at printer {} answered {status}: {}",
                self.printer,
                String::from_utf8_lossy(&body)
            ));
        }
        Ok((ids, t0, answered))
    }
}

// ---------------------------------------------------------------------------------
// Figures

struct Idle {
    label: String,
    secs: f64,
    server_cpu: f64,
    bench_cpu: f64,
    others_cpu: f64,
    rss: Option<u64>,
    threads: Option<u64>,
    sockets: usize,
    device_requests: u64,
    server_requests: Option<u64>,
}

async fn idle_window(
    label: &str,
    secs: f64,
    server: &Process,
    hub: Option<&Hub>,
    base: &str,
) -> Idle {
    let pid = server.pid();
    let me = std::process::id();
    let served_before = server_infra_requests(base).await;
    let requests_before = hub.map(|h| h.requests.load(Ordering::SeqCst)).unwrap_or(0);
    let machine_before = all_processes_cpu();
    let (server_before, bench_before) = (cpu_secs(Some(pid), true), cpu_secs(None, false));
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = cpu_secs(Some(pid), true) - server_before;
    let bench_cpu = cpu_secs(None, false) - bench_before;
    let others = others_cpu(&machine_before, &all_processes_cpu(), &[pid, me]);
    let requests = hub.map(|h| h.requests.load(Ordering::SeqCst)).unwrap_or(0) - requests_before;
    let served_after = server_infra_requests(base).await;
    Idle {
        label: label.to_owned(),
        secs: elapsed,
        server_cpu,
        bench_cpu,
        others_cpu: others,
        rss: proc_status_kib(pid, "VmRSS:"),
        threads: proc_status_kib(pid, "Threads:"),
        sockets: sockets(pid),
        device_requests: requests,
        server_requests: served_before
            .zip(served_after)
            .map(|(b, a)| a.saturating_sub(b)),
    }
}

struct Phase {
    label: String,
    how: String,
    jobs: usize,
    /// Release id → (t0, POST answered).
    released: HashMap<i64, (Instant, Instant)>,
    fetched: HashMap<i64, Fetched>,
    wall: f64,
    server_cpu: f64,
    others_cpu: f64,
    requests: u64,
    rss: Option<u64>,
    peak: Option<u64>,
    peak_measured: bool,
}

/// One call per entry: (offset from the phase's start, printer, jobs).
async fn run_phase(
    label: &str,
    how: String,
    schedule: Vec<(Duration, usize, Vec<i64>)>,
    panels: &[Arc<Panel>],
    hub: &Arc<Hub>,
    server: &Process,
) -> Result<Phase, String> {
    let pid = server.pid();
    let me = std::process::id();
    for panel in panels {
        panel.sign_in().await?;
    }
    let jobs: usize = schedule.iter().map(|(_, _, ids)| ids.len()).sum();
    let peak_measured = reset_peak(pid);
    let machine_before = all_processes_cpu();
    let server_before = cpu_secs(Some(pid), true);
    let requests_before = hub.requests.load(Ordering::SeqCst);
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let calls: Vec<_> = schedule
        .into_iter()
        .map(|(offset, printer, ids)| {
            let panel = panels[printer].clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(start + offset).await;
                panel.release(&ids).await
            })
        })
        .collect();
    let mut released = HashMap::new();
    for call in calls {
        let (ids, t0, answered) = call.await.map_err(|e| e.to_string())??;
        for id in ids {
            released.insert(id, (t0, answered));
        }
    }
    // Until every release was printed by its device.
    let limit = Duration::from_secs(120) + Duration::from_millis(200 * jobs as u64);
    let waited = Instant::now();
    loop {
        let done = {
            let fetched = hub.fetched.lock().unwrap();
            released
                .keys()
                .filter(|id| fetched.contains_key(id))
                .count()
        };
        if done == released.len() {
            break;
        }
        if waited.elapsed() > limit {
            return Err(format!(
                "{label}: {done} of {} jobs printed at the devices after {limit:?}; device errors: {:?}",
                released.len(),
                hub.errors
                    .lock()
                    .unwrap()
                    .iter()
                    .take(10)
                    .collect::<Vec<_>>()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let server_cpu = cpu_secs(Some(pid), true) - server_before;
    let others = others_cpu(&machine_before, &all_processes_cpu(), &[pid, me]);
    let fetched: HashMap<i64, Fetched> = {
        let all = hub.fetched.lock().unwrap();
        released.keys().map(|id| (*id, all[id].clone())).collect()
    };
    let first_t0 = released.values().map(|(t0, _)| *t0).min().unwrap();
    let last_printed = fetched.values().map(|f| f.printed_at).max().unwrap();
    Ok(Phase {
        label: label.to_owned(),
        how,
        jobs,
        released,
        fetched,
        wall: ms(first_t0, last_printed) / 1e3,
        server_cpu,
        others_cpu: others,
        requests: hub.requests.load(Ordering::SeqCst) - requests_before,
        rss: proc_status_kib(pid, "VmRSS:"),
        peak: proc_status_kib(pid, "VmHWM:"),
        peak_measured,
    })
}

struct Latencies {
    post: Vec<f64>,
    event: Vec<f64>,
    fetch: Vec<f64>,
    printed: Vec<f64>,
}

fn latencies(phase: &Phase) -> Latencies {
    let mut l = Latencies {
        post: Vec::new(),
        event: Vec::new(),
        fetch: Vec::new(),
        printed: Vec::new(),
    };
    for (id, (t0, answered)) in &phase.released {
        let f = &phase.fetched[id];
        l.post.push(ms(*t0, *answered));
        l.event.push(ms(*t0, f.event_at));
        l.fetch.push(ms(*t0, f.fetch_sent));
        l.printed.push(ms(*t0, f.printed_at));
    }
    l
}

fn print_phase(phase: &Phase, db_printed: usize) {
    let l = latencies(phase);
    let devices: HashSet<usize> = phase.fetched.values().map(|f| f.device).collect();
    let intact = phase.fetched.values().filter(|f| f.document_ok).count();
    println!("\n{} — {}", phase.label, phase.how);
    println!(
        "  {:<62} {:>8} {:>8} {:>8} {:>8}",
        "ms from t0 (just before the release POST)", "p50", "p90", "p99", "max"
    );
    for (what, v) in [
        ("release POST answered (200, device app API)", &l.post),
        (
            "job-fetchable event arrived at the device (Get-Notifications)",
            &l.event,
        ),
        ("Fetch-Job sent by the device", &l.fetch),
        ("printed: Update-Job-Status(completed) answered", &l.printed),
    ] {
        println!(
            "  {:<62} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            what,
            percentile(v, 50.0),
            percentile(v, 90.0),
            percentile(v, 99.0),
            percentile(v, 100.0)
        );
    }
    let step = |f: fn(&Fetched) -> f64| -> Vec<f64> { phase.fetched.values().map(f).collect() };
    println!(
        "  {:<62} {:>8} {:>8} {:>8} {:>8}",
        "one job at its device, ms (request sent → answer read)", "p50", "p90", "p99", "max"
    );
    for (what, v) in [
        ("  Fetch-Job", step(|f| ms(f.fetch_sent, f.fetched_at))),
        (
            "  Acknowledge-Job",
            step(|f| ms(f.fetched_at, f.acknowledged_at)),
        ),
        (
            "  Fetch-Document (2.9 KB body read to the end)",
            step(|f| ms(f.acknowledged_at, f.document_at)),
        ),
        (
            "  Update-Job-Status(completed)",
            step(|f| ms(f.document_at, f.printed_at)),
        ),
    ] {
        println!(
            "  {:<62} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            what,
            percentile(&v, 50.0),
            percentile(&v, 90.0),
            percentile(&v, 99.0),
            percentile(&v, 100.0)
        );
    }
    println!(
        "  {}/{} jobs printed at {} devices, {intact} documents byte-identical at their own printer's device; {db_printed}/{} `printed` in the database",
        phase.fetched.len(),
        phase.jobs,
        devices.len(),
        phase.jobs
    );
    println!(
        "  first release → last printed {:.2} s; server CPU {:.2} s ({:.2} ms per job, {:.0} % of one core); {} device requests ({:.1} per job)",
        phase.wall,
        phase.server_cpu,
        phase.server_cpu * 1e3 / phase.jobs as f64,
        phase.server_cpu / phase.wall.max(1e-9) * 100.0,
        phase.requests,
        phase.requests as f64 / phase.jobs as f64,
    );
    println!(
        "  server RSS after {}, peak during the phase {}{}; other processes on the machine used {:.2} s CPU meanwhile{}",
        mib(phase.rss),
        mib(phase.peak),
        if phase.peak_measured {
            ""
        } else {
            " (VmHWM not reset: since start)"
        },
        phase.others_cpu,
        if phase.others_cpu > 0.2 * phase.wall {
            " (the machine was not idle: latencies may be inflated)"
        } else {
            ""
        }
    );
}

fn print_idle(idle: &Idle, devices: usize, cycle: f64) {
    let pct = idle.server_cpu / idle.secs * 100.0;
    println!(
        "  {:<34} {:>5.1} s: server CPU {:>6.3} s = {:>5.2} % of one core, RSS {}, {} threads, {} sockets",
        idle.label,
        idle.secs,
        idle.server_cpu,
        pct,
        mib(idle.rss),
        idle.threads
            .map(|t| t.to_string())
            .unwrap_or_else(|| "?".into()),
        idle.sockets,
    );
    if devices > 0 {
        println!(
            "  {:<34}        {} requests from the devices (one Get-Notifications per device per {cycle:.0} s: ~{:.0} on average, \
             in step as the devices started together){}; \
             bench process (the {devices} device clients) {:.3} s CPU",
            "",
            idle.device_requests,
            devices as f64 * idle.secs / cycle,
            idle.server_requests
                .map(|n| format!(", {n} INFRA requests answered by the server"))
                .unwrap_or_default(),
            idle.bench_cpu,
        );
    }
    if idle.others_cpu > 0.2 * idle.secs {
        println!(
            "  {:<34}        (other processes used {:.1} s CPU meanwhile: the machine was busy; the server's own CPU above is still its own)",
            "", idle.others_cpu
        );
    }
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

async fn run(opts: Options) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::Builder::new()
        .prefix("pp-bench-infra-")
        .tempdir()
        .expect("temp dir");
    let phase_count = if opts.burst { 2 } else { 1 };
    println!(
        "PrintPark IPP INFRA benchmark: {}; SQLite, local disk; fsync (4 KiB, temp dir) p50 {:.2} ms",
        machine(),
        fsync_ms(dir.path()),
    );
    println!(
        "{} printers with delivery `infra`, one output device each; {} jobs per load phase \
         (document-a4.pdf + a unique line, 2.9 KB), {} users releasing at the printers' panels",
        opts.devices, opts.jobs, opts.users
    );
    // An idle device's Get-Notifications cycle: the server's hold, plus ippproxy's
    // sleep of notify-get-interval (PrintPark sends 30) when pacing like it.
    let cycle = HOLD_SECS + if opts.ippproxy_pacing { 30.0 } else { 0.0 };
    if opts.ippproxy_pacing {
        println!(
            "Devices pace themselves like ippproxy (--ippproxy-pacing): after every Get-Notifications answer they sleep its \
             notify-get-interval (30 s when absent, 0 or >= 3600), and a second task per device fetches the jobs meanwhile"
        );
    } else {
        println!(
            "Devices ask Get-Notifications again as soon as an answer came (and its jobs were processed); \
             --ippproxy-pacing makes them sleep notify-get-interval as ippproxy does"
        );
    }

    let prepared_at = Instant::now();
    let Prepared {
        services,
        enrolled,
        phases,
        expected,
        users,
    } = prepare(dir.path(), &opts, phase_count).await;
    eprintln!(
        "  prepared: users, printers, devices, {} jobs parked in {:.1} s",
        phases.iter().map(Vec::len).sum::<usize>(),
        prepared_at.elapsed().as_secs_f64()
    );

    let port = free_port();
    let base = format!("https://127.0.0.1:{port}");
    let mut server = match start_server(
        dir.path(),
        port,
        max_held(&opts, phase_count),
        "printpark",
        Duration::from_secs(30),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    println!(
        "Server: `printpark serve` (pid {}, {}), default settings; devices and panels in the bench process",
        server.pid(),
        env!("CARGO_BIN_EXE_printpark")
    );

    // Idle, no device.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut idles = vec![
        idle_window(
            "no device connected",
            opts.baseline_secs,
            &server,
            None,
            &base,
        )
        .await,
    ];
    eprintln!("  done: idle without devices");

    // The devices.
    let hub = Arc::new(Hub {
        base: base.clone(),
        port,
        expected,
        fetched: Mutex::new(HashMap::new()),
        doubles: Mutex::new(Vec::new()),
        requests: AtomicU64::new(0),
        polling: AtomicUsize::new(0),
        intervals: Mutex::new(Default::default()),
        errors: Mutex::new(Vec::new()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let connecting = Instant::now();
    let device_tasks: Vec<_> = enrolled
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let device = Device {
                index,
                guid: e.guid.clone(),
                login: e.login.clone(),
                secret: e.secret.clone(),
                uuid: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
                client: insecure_client(),
                hub: hub.clone(),
                printer_uri: String::new(),
                url: String::new(),
            };
            tokio::spawn(device.run(stop_rx.clone(), opts.ippproxy_pacing))
        })
        .collect();
    while hub.polling.load(Ordering::SeqCst) < opts.devices {
        if connecting.elapsed() > Duration::from_secs(60) {
            panic!(
                "{} of {} devices reached their notification loop in 60 s: {:?}",
                hub.polling.load(Ordering::SeqCst),
                opts.devices,
                hub.errors.lock().unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connected_in = connecting.elapsed();
    let start_requests = hub.requests.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!(
        "  done: {} devices connected in {:.2} s",
        opts.devices,
        connected_in.as_secs_f64()
    );
    idles.push(
        idle_window(
            &format!("{} devices long-polling", opts.devices),
            opts.idle_secs,
            &server,
            Some(&hub),
            &base,
        )
        .await,
    );
    eprintln!("  done: idle with devices");

    // Load.
    let panels: Vec<Arc<Panel>> = enrolled
        .iter()
        .enumerate()
        .map(|(printer, e)| {
            Arc::new(Panel {
                printer,
                client: insecure_client(),
                base: base.clone(),
                login: e.login.clone(),
                secret: e.secret.clone(),
                user: e.user.clone(),
                token: Mutex::new(String::new()),
            })
        })
        .collect();
    let mut results = Vec::new();
    let step = Duration::from_secs_f64(opts.spread_secs / opts.jobs as f64);
    let spread: Vec<(Duration, usize, Vec<i64>)> = phases[0]
        .iter()
        .enumerate()
        .map(|(k, job)| (step * k as u32, job.printer, vec![job.job_id]))
        .collect();
    let spread_how = format!(
        "one release call per job, one every {:.1} ms for {:.1} s ({:.0} jobs/s), round-robin over the {} printers",
        step.as_secs_f64() * 1e3,
        opts.spread_secs,
        opts.jobs as f64 / opts.spread_secs,
        opts.devices
    );
    let phase = run_phase("Spread", spread_how, spread, &panels, &hub, &server)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("  done: spread phase");
    results.push(phase);
    if opts.burst {
        let mut per_printer: Vec<Vec<i64>> = vec![Vec::new(); opts.devices];
        for job in &phases[1] {
            per_printer[job.printer].push(job.job_id);
        }
        let burst: Vec<(Duration, usize, Vec<i64>)> = per_printer
            .into_iter()
            .enumerate()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(p, ids)| (Duration::ZERO, p, ids))
            .collect();
        let burst_how = format!(
            "all {} jobs at once: {} concurrent release calls, one per printer with its {} jobs",
            opts.jobs,
            burst.len(),
            opts.jobs.div_ceil(opts.devices)
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let phase = run_phase("Burst", burst_how, burst, &panels, &hub, &server)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!("  done: burst phase");
        results.push(phase);
    }

    // Idle again after the load: nothing left spinning.
    tokio::time::sleep(Duration::from_secs(2)).await;
    idles.push(
        idle_window(
            &format!("{} devices, after the load", opts.devices),
            opts.baseline_secs,
            &server,
            Some(&hub),
            &base,
        )
        .await,
    );

    // The database's word on every release.
    let mut db_printed = Vec::new();
    let mut not_printed = Vec::new();
    for phase in &results {
        let mut printed = 0;
        for id in phase.released.keys() {
            match services.db.release_by_id(*id).await {
                Ok(row) if row.state == printpark::release::ReleaseState::Printed => printed += 1,
                Ok(row) => {
                    not_printed.push(format!("release {id}: {} ({})", row.state, row.reason))
                }
                Err(e) => not_printed.push(format!("release {id}: {e}")),
            }
        }
        db_printed.push(printed);
    }
    let held_left: usize = {
        let mut n = 0;
        for user in &users {
            n += services
                .jobs
                .held_jobs_of(user)
                .await
                .map(|j| j.len())
                .unwrap_or(0);
        }
        n
    };

    let _ = stop_tx.send(true);
    for task in device_tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let log = server.log_lines();
    let exited = server.exited();

    // ---- Figures
    println!(
        "\nDevices: {} connected (Register-Output-Device, Create-Printer-Subscriptions, Get-Jobs, first Get-Notifications) in {:.2} s, {} requests",
        opts.devices,
        connected_in.as_secs_f64(),
        start_requests
    );
    let intervals: Vec<String> = hub
        .intervals
        .lock()
        .unwrap()
        .iter()
        .map(|(value, n)| match value {
            -1 => format!("absent ×{n}"),
            v => format!("{v} ×{n}"),
        })
        .collect();
    println!(
        "notify-get-interval in the server's Get-Notifications answers: {}",
        intervals.join(", ")
    );
    println!("\nIdle (server process alone; CPU = utime + stime from /proc/PID/stat):");
    print_idle(&idles[0], 0, cycle);
    print_idle(&idles[1], opts.devices, cycle);
    print_idle(&idles[2], opts.devices, cycle);
    for (phase, printed) in results.iter().zip(&db_printed) {
        print_phase(phase, *printed);
    }
    let errors = hub.errors.lock().unwrap().clone();
    let doubles = hub.doubles.lock().unwrap().clone();
    println!(
        "\nChecks: {} device errors, {} jobs processed twice, {} releases not `printed` in the database, {} jobs still held; \
         server log: {} lines at warn or above{}",
        errors.len(),
        doubles.len(),
        not_printed.len(),
        held_left,
        log.len(),
        match exited {
            Some(status) => format!("; THE SERVER EXITED ({status})"),
            None => String::new(),
        }
    );
    for e in errors.iter().take(10) {
        println!("  device error: {e}");
    }
    for e in not_printed.iter().take(10) {
        println!("  not printed: {e}");
    }
    for line in log.iter().take(10) {
        println!("  server log: {line}");
    }

    // ---- The aim
    let idle = &idles[1];
    let idle_pct = idle.server_cpu / idle.secs * 100.0;
    let expected_requests = opts.devices as f64 * idle.secs / cycle;
    let no_busy_polling =
        (idle.device_requests as f64) <= 1.5 * expected_requests + opts.devices as f64;
    let idle_ok = idle_pct < NEAR_ZERO_PCT && no_busy_polling;
    let all_printed = errors.is_empty()
        && doubles.is_empty()
        && not_printed.is_empty()
        && results
            .iter()
            .all(|p| p.fetched.len() == p.jobs && p.fetched.values().all(|f| f.document_ok));
    let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };
    let mut lines = Vec::new();
    let mut met = idle_ok && all_printed;
    for phase in &results {
        let l = latencies(phase);
        let p99 = percentile(&l.fetch, 99.0);
        met &= p99 < 1000.0;
        lines.push(format!(
            "  {:<7} {} (release → Fetch-Job p99 {p99:.0} ms, p50 {:.0} ms; release → job-fetchable event p99 {:.0} ms)",
            format!("{}:", phase.label.to_lowercase()),
            verdict(p99 < 1000.0),
            percentile(&l.fetch, 50.0),
            percentile(&l.event, 99.0),
        ));
    }
    lines.push(format!(
        "  idle:   {} ({:.2} % of one core with {} devices long-polling, {:.2} % with none; {} device requests in {:.0} s, ~{:.0} expected)",
        verdict(idle_ok),
        idle_pct,
        opts.devices,
        idles[0].server_cpu / idles[0].secs * 100.0,
        idle.device_requests,
        idle.secs,
        expected_requests,
    ));
    if !all_printed {
        lines.push(
            "  NOT every job printed once, intact, at its own printer, and recorded printed".into(),
        );
    }
    println!(
        "\naim: p99 < 1 s from release to fetch, idle CPU near zero (< {NEAR_ZERO_PCT} % of one core, no busy polling): {}",
        verdict(met)
    );
    for line in lines {
        println!("{line}");
    }

    drop(server);
    drop(services);
    if !all_printed {
        std::process::exit(1);
    }
}
