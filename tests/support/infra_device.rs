//! A simulated IPP INFRA **output device** (PWG 5100.18), for testing PrintPark as an
//! Infrastructure Printer. It plays the PWG reference proxy `ippproxy` (ippsample,
//! tools/ippproxy.c) and sends the requests it sends, in its order
//! (/work/shared/INFRA-NOTES.md):
//!
//! 1. Register-Output-Device to the system URI (`ipps://HOST:PORT/ipp/system`); the
//!    printer URI is the `xri-uri` of the answer's `printer-xri-supported`.
//!    Skipped when [`DeviceConfig::printer_uri`] is given.
//! 2. Create-Printer-Subscriptions (ippget, lease 0, the seven events ippproxy asks for).
//! 3. Get-Printer-Attributes to the *local* printer (an `ippeveprinter`), then
//!    Update-Output-Device-Attributes with a copy of its attributes.
//! 4. Get-Jobs `which-jobs=fetchable` — once, at start only.
//! 5. Get-Notifications in a loop (`notify-wait=true`, next sequence number, honouring
//!    `notify-get-interval` capped at 30 s); a `job-fetchable` event starts step 6.
//! 6. Per job: Fetch-Job → Acknowledge-Job → Update-Job-Status(processing) → per
//!    document: Update-Document-Status(processing) → Fetch-Document → Print-Job on the
//!    local printer (then Get-Job-Attributes until it is done) →
//!    Update-Document-Status(completed) → Acknowledge-Document; then
//!    Update-Job-Status(completed, or aborted when the local printer failed).
//! 7. On [`OutputDevice::stop`]: Cancel-Subscription, Deregister-Output-Device.
//!
//! ```ignore
//! let device = OutputDevice::start(DeviceConfig::new(&server.base, "hall-printer",
//!     &secret, &printer.uri())).await;
//! assert_eq!(device.phase(), Phase::Running, "{}", describe(&device.log()));
//! // ... a user prints and releases a job: the server announces job-fetchable ...
//! assert!(device.wait_for_printed(job_id, Duration::from_secs(30)).await);
//! device.stop().await;
//! ```
//!
//! Unlike ippproxy, which fetches jobs in a second thread while the notification loop
//! goes on, this device does one thing at a time (a job is processed between two
//! Get-Notifications), so that tests can assert an exact request sequence.
//! Nothing in the background task panics: every request, its answer and every error
//! goes to the log ([`OutputDevice::log`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use printpark::ipp::client::new_request;
use printpark::ipp::wire::{Attribute, Group, Limits, Message, Value, encode, group, read_message};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::io::StreamReader;

/// Operation codes (RFC 8011, PWG 5100.18, PWG 5100.22). Checked against `ipp_op_t` in
/// libcups `cups/ipp.h`: Cancel-Document = 0x0033 and the enum counts up from there,
/// which puts Acknowledge-Document at 0x3F … Update-Output-Device-Attributes at 0x49 and
/// Register-Output-Device at 0x5F.
pub mod op {
    pub const PRINT_JOB: u16 = 0x0002;
    pub const GET_JOB_ATTRIBUTES: u16 = 0x0009;
    pub const GET_JOBS: u16 = 0x000A;
    pub const GET_PRINTER_ATTRIBUTES: u16 = 0x000B;
    pub const CREATE_PRINTER_SUBSCRIPTIONS: u16 = 0x0016;
    pub const CANCEL_SUBSCRIPTION: u16 = 0x001B;
    pub const GET_NOTIFICATIONS: u16 = 0x001C;
    pub const ACKNOWLEDGE_DOCUMENT: u16 = 0x003F;
    pub const ACKNOWLEDGE_JOB: u16 = 0x0041;
    pub const FETCH_DOCUMENT: u16 = 0x0042;
    pub const FETCH_JOB: u16 = 0x0043;
    pub const UPDATE_ACTIVE_JOBS: u16 = 0x0045;
    pub const DEREGISTER_OUTPUT_DEVICE: u16 = 0x0046;
    pub const UPDATE_DOCUMENT_STATUS: u16 = 0x0047;
    pub const UPDATE_JOB_STATUS: u16 = 0x0048;
    pub const UPDATE_OUTPUT_DEVICE_ATTRIBUTES: u16 = 0x0049;
    pub const REGISTER_OUTPUT_DEVICE: u16 = 0x005F;
}

/// The attribute group tags `printpark::ipp::wire::group` does not name.
pub mod group_tag {
    pub const SUBSCRIPTION: u8 = 0x06;
    pub const EVENT_NOTIFICATION: u8 = 0x07;
    pub const DOCUMENT: u8 = 0x09;
}

/// Status codes the device tells apart.
pub mod status {
    /// client-error-not-fetchable: the job was fetched by someone else, or is gone.
    pub const NOT_FETCHABLE: u16 = 0x0420;
    /// server-error-busy: ippeveprinter prints one job at a time.
    pub const BUSY: u16 = 0x0507;
}

/// job-state / output-device-job-state / output-device-document-state values.
pub mod state {
    pub const PENDING: i32 = 3;
    pub const PROCESSING: i32 = 5;
    pub const PROCESSING_STOPPED: i32 = 6;
    pub const CANCELED: i32 = 7;
    pub const ABORTED: i32 = 8;
    pub const COMPLETED: i32 = 9;
}

/// The name of an operation, as the log shows it.
pub fn op_name(code: u16) -> &'static str {
    match code {
        op::PRINT_JOB => "Print-Job",
        op::GET_JOB_ATTRIBUTES => "Get-Job-Attributes",
        op::GET_JOBS => "Get-Jobs",
        op::GET_PRINTER_ATTRIBUTES => "Get-Printer-Attributes",
        op::CREATE_PRINTER_SUBSCRIPTIONS => "Create-Printer-Subscriptions",
        op::CANCEL_SUBSCRIPTION => "Cancel-Subscription",
        op::GET_NOTIFICATIONS => "Get-Notifications",
        op::ACKNOWLEDGE_DOCUMENT => "Acknowledge-Document",
        op::ACKNOWLEDGE_JOB => "Acknowledge-Job",
        op::FETCH_DOCUMENT => "Fetch-Document",
        op::FETCH_JOB => "Fetch-Job",
        op::UPDATE_ACTIVE_JOBS => "Update-Active-Jobs",
        op::DEREGISTER_OUTPUT_DEVICE => "Deregister-Output-Device",
        op::UPDATE_DOCUMENT_STATUS => "Update-Document-Status",
        op::UPDATE_JOB_STATUS => "Update-Job-Status",
        op::UPDATE_OUTPUT_DEVICE_ATTRIBUTES => "Update-Output-Device-Attributes",
        op::REGISTER_OUTPUT_DEVICE => "Register-Output-Device",
        _ => "(unknown operation)",
    }
}

/// The `op` of log entries that are not requests but errors of the device itself
/// (an answer without `printer-xri-supported`, a failed local print …).
pub const ERROR: &str = "(error)";

/// The events ippproxy subscribes to, in its order.
pub const EVENTS: [&str; 7] = [
    "document-config-changed",
    "document-state-changed",
    "job-config-changed",
    "job-fetchable",
    "job-state-changed",
    "printer-config-changed",
    "printer-state-changed",
];

/// The local printer's attributes passed on with Update-Output-Device-Attributes:
/// ippproxy's list (ippsample master, `printer_attrs`) plus `color-supported` and
/// `printer-make-and-model`. Those the printer has are copied, values and all.
pub const DEVICE_ATTRIBUTES: [&str; 48] = [
    "color-supported",
    "copies-default",
    "copies-supported",
    "document-format-default",
    "document-format-supported",
    "finishings-col-database",
    "finishings-col-default",
    "finishings-col-ready",
    "finishings-col-supported",
    "finishings-default",
    "finishings-supported",
    "jpeg-k-octets-supported",
    "media-bottom-margin-supported",
    "media-col-database",
    "media-col-default",
    "media-col-ready",
    "media-col-supported",
    "media-default",
    "media-left-margin-supported",
    "media-ready",
    "media-right-margin-supported",
    "media-size-supported",
    "media-source-supported",
    "media-supported",
    "media-top-margin-supported",
    "media-type-supported",
    "pdf-k-octets-supported",
    "print-color-mode-default",
    "print-color-mode-supported",
    "print-darkness-default",
    "print-darkness-supported",
    "print-quality-default",
    "print-quality-supported",
    "print-scaling-default",
    "print-scaling-supported",
    "printer-darkness-configured",
    "printer-darkness-supported",
    "printer-make-and-model",
    "printer-resolution-default",
    "printer-resolution-supported",
    "printer-state",
    "printer-state-reasons",
    "pwg-raster-document-resolution-supported",
    "pwg-raster-document-sheet-back",
    "pwg-raster-document-type-supported",
    "sides-default",
    "sides-supported",
    "urf-supported",
];

/// How much of an answer's attribute section the device reads (media-col-database and
/// friends make Get-Printer-Attributes answers large).
const RESPONSE_LIMITS: Limits = Limits {
    max_bytes: 16 * 1024 * 1024,
    max_attributes: 100_000,
    max_depth: 16,
};
/// Per request, answer included. Get-Notifications with notify-wait may be held open.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `start` waits for steps 1–4.
const STARTUP_WAIT: Duration = Duration::from_secs(60);
/// How long a job may take on the local printer.
const LOCAL_JOB_TIMEOUT: Duration = Duration::from_secs(120);
/// ippproxy caps notify-get-interval here.
const MAX_GET_INTERVAL: i32 = 30;

// ---------------------------------------------------------------------------------------
// Configuration and the public handle
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// The Infrastructure Printer's base URL, `https://127.0.0.1:PORT`; the system URI is
    /// `ipps://127.0.0.1:PORT/ipp/system`. (`http://` gives `ipp://`, for fake servers.)
    pub server: String,
    /// Skip Register-Output-Device and talk to this printer URI (`ipps://…/ipp/infra/…`).
    pub printer_uri: Option<String>,
    /// HTTP Basic user name; also `requesting-user-name`.
    pub login: String,
    /// HTTP Basic password.
    pub secret: String,
    /// `output-device-uuid` is derived from this ([`device_uuid`]): same seed, same uuid.
    pub uuid_seed: String,
    /// The local printer, `ipp://127.0.0.1:PORT/ipp/print` (plain HTTP, no credentials).
    pub local_printer: String,
    /// Send the very first request without credentials, as ippproxy does on a new
    /// connection, expecting HTTP 401 + `WWW-Authenticate: Basic`, then retry with them.
    /// Both attempts are in the log (the first with `authenticated: false`).
    pub first_request_unauthenticated: bool,
}

impl DeviceConfig {
    /// A device that registers at `server`, with `login` as its uuid seed.
    pub fn new(server: &str, login: &str, secret: &str, local_printer: &str) -> Self {
        Self {
            server: server.to_owned(),
            printer_uri: None,
            login: login.to_owned(),
            secret: secret.to_owned(),
            uuid_seed: login.to_owned(),
            local_printer: local_printer.to_owned(),
            first_request_unauthenticated: false,
        }
    }
}

/// Where the device is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Steps 1–4 under way.
    Starting,
    /// In the Get-Notifications loop (or processing a job).
    Running,
    /// A start-up step failed (see the log); the task has ended, as ippproxy exits.
    Failed,
    /// Stopped gracefully: Cancel-Subscription and Deregister-Output-Device were sent.
    Stopped,
    /// Killed: by [`OutputDevice::kill`] or by the [`OutputDevice::kill_during_fetch`] trap.
    Killed,
}

/// One event of a Get-Notifications answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `notify-subscribed-event`, e.g. `job-fetchable`.
    pub event: String,
    /// `job-id` or `notify-job-id`.
    pub job_id: Option<i32>,
    pub seq: Option<i32>,
    pub subscription_id: Option<i32>,
    pub job_state: Option<i32>,
}

/// One request the device sent (or one error of its own, `op == ERROR`).
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// Operation name ([`op_name`]), or [`ERROR`].
    pub op: &'static str,
    /// To the local printer rather than the Infrastructure Printer.
    pub local: bool,
    /// Sent with HTTP Basic credentials.
    pub authenticated: bool,
    /// HTTP status of the answer; 0 when none came (connection failed, device stopped).
    pub http_status: u16,
    /// IPP status-code of the answer.
    pub status: Option<u16>,
    /// Request attributes worth asserting on.
    pub job_id: Option<i32>,
    pub document_number: Option<i32>,
    /// `notify-sequence-numbers` sent with Get-Notifications.
    pub seq: Option<i32>,
    /// `notify-subscription-id(s)` sent.
    pub subscription_id: Option<i32>,
    /// `output-device-job-state` / `output-device-document-state` sent.
    pub state: Option<i32>,
    /// Events in a Get-Notifications answer.
    pub events: Vec<Event>,
    /// Errors, the document fetched, the challenge seen, …
    pub note: String,
}

impl Step {
    fn for_request(request: &Message, local: bool, authenticated: bool) -> Self {
        let int = |name: &str| request.operation_int(name);
        Self {
            op: op_name(request.code),
            local,
            authenticated,
            job_id: int("job-id"),
            document_number: int("document-number"),
            seq: int("notify-sequence-numbers"),
            subscription_id: int("notify-subscription-id").or(int("notify-subscription-ids")),
            state: find_int(request, "output-device-job-state")
                .or(find_int(request, "output-device-document-state")),
            ..Self::default()
        }
    }

    fn error(note: String) -> Self {
        Self {
            op: ERROR,
            note,
            ..Self::default()
        }
    }

    /// Whether this is the unauthenticated first try that the server challenged.
    pub fn is_challenge(&self) -> bool {
        !self.authenticated && self.http_status == 401
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", if self.local { "local " } else { "" }, self.op)?;
        if self.op == ERROR {
            return write!(f, ": {}", self.note);
        }
        for (label, value) in [
            ("job", self.job_id),
            ("doc", self.document_number),
            ("seq", self.seq),
            ("sub", self.subscription_id),
            ("state", self.state),
        ] {
            if let Some(v) = value {
                write!(f, " {label}={v}")?;
            }
        }
        if !self.local && !self.authenticated {
            write!(f, " (no credentials)")?;
        }
        write!(f, " → HTTP {}", self.http_status)?;
        if let Some(s) = self.status {
            write!(f, " 0x{s:04x}")?;
        }
        for e in &self.events {
            write!(f, " [{} job={:?} seq={:?}]", e.event, e.job_id, e.seq)?;
        }
        if !self.note.is_empty() {
            write!(f, " — {}", self.note)?;
        }
        Ok(())
    }
}

/// A log, one step a line, for assertion messages.
pub fn describe(log: &[Step]) -> String {
    log.iter()
        .enumerate()
        .map(|(i, s)| format!("{i:3}. {s}\n"))
        .collect()
}

/// A document as Fetch-Document delivered it (after gzip decompression).
#[derive(Debug, Clone)]
pub struct FetchedDocument {
    pub document_number: i32,
    pub format: Option<String>,
    /// `compression` of the answer (`none` when absent).
    pub compression: String,
    pub bytes: Vec<u8>,
}

/// What the background task and the handle share.
struct Shared {
    log: Mutex<Vec<Step>>,
    /// Final output-device-job-state reported per job id (9 completed, 8 aborted).
    outcomes: Mutex<HashMap<i32, i32>>,
    documents: Mutex<HashMap<i32, Vec<FetchedDocument>>>,
    printer_uri: Mutex<Option<String>>,
    subscription_id: Mutex<Option<i32>>,
    /// Armed by `kill_during_fetch`.
    kill_during_fetch: AtomicBool,
    phase: watch::Sender<Phase>,
}

impl Shared {
    fn push(&self, step: Step) -> usize {
        let mut log = self.log.lock().unwrap();
        log.push(step);
        log.len() - 1
    }

    fn amend(&self, index: usize, change: impl FnOnce(&mut Step)) {
        if let Some(step) = self.log.lock().unwrap().get_mut(index) {
            change(step);
        }
    }
}

/// A running simulated output device: a tokio task and its shared log.
pub struct OutputDevice {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    uuid: String,
}

impl OutputDevice {
    /// Spawns the device and returns once steps 1–4 are done or one failed (at most
    /// 60 s); the notification loop and the jobs then go on in the background.
    /// Check [`Self::phase`] (`Running`) or the log to see how start-up went.
    pub async fn start(config: DeviceConfig) -> Self {
        let uuid = device_uuid(&config.uuid_seed);
        let (phase, _) = watch::channel(Phase::Starting);
        let shared = Arc::new(Shared {
            log: Mutex::default(),
            outcomes: Mutex::default(),
            documents: Mutex::default(),
            printer_uri: Mutex::new(config.printer_uri.clone()),
            subscription_id: Mutex::default(),
            kill_during_fetch: AtomicBool::new(false),
            phase,
        });
        let (stop, stop_rx) = watch::channel(false);
        let device = Device {
            client: super::insecure_client(),
            system_uri: system_uri(&config.server),
            printer_uri: config.printer_uri.clone().unwrap_or_default(),
            challenge_pending: config.first_request_unauthenticated,
            config,
            uuid: uuid.clone(),
            shared: shared.clone(),
            stop: stop_rx,
            subscription_id: 0,
            seq: 1,
            local: Group::new(group::PRINTER),
            known_jobs: HashSet::new(),
        };
        let mut phase = shared.phase.subscribe();
        let task = tokio::spawn(device.run());
        let _ = tokio::time::timeout(STARTUP_WAIT, phase.wait_for(|p| *p != Phase::Starting)).await;
        Self {
            shared,
            stop,
            task: Some(task),
            uuid,
        }
    }

    /// Every request sent so far, in order, with its answer's status and key attributes.
    pub fn log(&self) -> Vec<Step> {
        self.shared.log.lock().unwrap().clone()
    }

    /// The operations sent to the Infrastructure Printer, in order — without local
    /// printer requests, device errors and the challenged unauthenticated first try.
    pub fn server_ops(&self) -> Vec<&'static str> {
        self.log()
            .iter()
            .filter(|s| !s.local && s.op != ERROR && !s.is_challenge())
            .map(|s| s.op)
            .collect()
    }

    /// The notes of the device's own error entries.
    pub fn errors(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|s| s.op == ERROR)
            .map(|s| s.note)
            .collect()
    }

    pub fn phase(&self) -> Phase {
        *self.shared.phase.borrow()
    }

    /// `output-device-uuid` (`urn:uuid:…`).
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// The printer URI in use (registered or configured).
    pub fn printer_uri(&self) -> Option<String> {
        self.shared.printer_uri.lock().unwrap().clone()
    }

    pub fn subscription_id(&self) -> Option<i32> {
        *self.shared.subscription_id.lock().unwrap()
    }

    /// The final state reported for a job: 9 completed, 8 aborted; `None` while unfinished.
    pub fn outcome(&self, job_id: i32) -> Option<i32> {
        self.shared.outcomes.lock().unwrap().get(&job_id).copied()
    }

    /// The documents fetched for a job, in order.
    pub fn documents(&self, job_id: i32) -> Vec<FetchedDocument> {
        self.shared
            .documents
            .lock()
            .unwrap()
            .get(&job_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until the job printed on the local printer and the device reported it
    /// completed (Update-Job-Status 9 sent). False when it ended otherwise, when the
    /// device is no longer running, or on time-out.
    pub async fn wait_for_printed(&self, job_id: i32, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(outcome) = self.outcome(job_id) {
                return outcome == state::COMPLETED;
            }
            if matches!(self.phase(), Phase::Failed | Phase::Stopped | Phase::Killed)
                || Instant::now() >= deadline
            {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Aborts the task at once: open connections drop, nothing more is sent (a killed
    /// process). The subscription and registration stay on the server.
    pub fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.shared.phase.send_replace(Phase::Killed);
    }

    /// Arms a trap: the next Fetch-Document reads the answer's attributes and the first
    /// bytes of the document, then the device drops the connection and stops dead
    /// (no acknowledgement, no status update, nothing more).
    pub fn kill_during_fetch(&self) {
        self.shared.kill_during_fetch.store(true, Ordering::SeqCst);
    }

    /// Graceful stop, as ippproxy on SIGTERM: a job being processed is finished, the
    /// pending Get-Notifications is abandoned, then Cancel-Subscription and
    /// Deregister-Output-Device are sent. Waits for the task (at most 5 minutes).
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(300), &mut task)
                .await
                .is_err()
        {
            task.abort();
            self.shared.push(Step::error(
                "stop: the device did not finish within 5 minutes; aborted".into(),
            ));
        }
    }
}

impl Drop for OutputDevice {
    /// A test that panics must not leave a device polling the server.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Helpers anyone can use: uuid, URIs, single requests
// ---------------------------------------------------------------------------------------

/// A stable `urn:uuid:` from a seed, built as ippproxy's `make_uuid` builds it from the
/// device URI (the last 16 bytes of SHA-256, version nibble 3), but with the RFC 4122
/// variant bits (ippproxy sets `01xx`, a typo for `10xx`).
pub fn device_uuid(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let b: Vec<u8> = h[16..32].to_vec();
    format!(
        "urn:uuid:{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        (b[6] & 0x0f) | 0x30,
        b[7],
        (b[8] & 0x3f) | 0x80,
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

/// `ipps://HOST:PORT/ipp/system` for a server base URL `https://HOST:PORT`.
pub fn system_uri(server: &str) -> String {
    let base = server.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("https://") {
        format!("ipps://{rest}/ipp/system")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ipp://{rest}/ipp/system")
    } else {
        format!("{base}/ipp/system")
    }
}

/// The URL to POST to for an IPP URI: `ipps://h:p/x` → `https://h:p/x`,
/// `ipp://h/x` → `http://h:631/x`. http(s) URLs pass unchanged.
pub fn http_url(uri: &str) -> Result<String, String> {
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or_else(|| format!("not a URI: {uri:?}"))?;
    let (http_scheme, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "ipps" => ("https", Some(631)),
        "ipp" => ("http", Some(631)),
        "https" => ("https", None),
        "http" => ("http", None),
        other => return Err(format!("unsupported URI scheme {other:?} in {uri:?}")),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // "[::1]:631" has a port, "[::1]" has not.
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let port = match default_port {
        Some(port) if !has_port => format!(":{port}"),
        _ => String::new(),
    };
    Ok(format!("{http_scheme}://{authority}{port}{path}"))
}

/// A request as the device sends it to its printer: charset, language, `printer-uri`,
/// `requesting-user-name`, and `output-device-uuid` when given.
pub fn infra_request(
    operation: u16,
    printer_uri: &str,
    login: &str,
    uuid: Option<&str>,
) -> Message {
    let mut request = new_request(operation, printer_uri, login);
    if let Some(uuid) = uuid {
        request.groups[0].push(Attribute::new("output-device-uuid", Value::uri(uuid)));
    }
    request
}

/// Sends one hand-made request: HTTP Basic with `login`/`secret`, none when `login` is
/// `None`. Returns the HTTP status (0 when no answer came), the IPP answer (when the
/// status is 200 and the body is IPP) and the body bytes after the IPP message (a
/// Fetch-Document's document; the whole body when it is not IPP).
pub async fn ipp_request(
    client: &reqwest::Client,
    url: &str,
    login: Option<&str>,
    secret: &str,
    request: &Message,
) -> (u16, Option<Message>, Vec<u8>) {
    let credentials = login.map(|l| (l, secret));
    match post_ipp(client, url, credentials, request, None).await {
        Err(_) => (0, None, Vec::new()),
        Ok(mut answer) => {
            let mut rest = Vec::new();
            let _ = answer.rest.read_to_end(&mut rest).await;
            (answer.http_status, answer.message, rest)
        }
    }
}

type BodyReader = Box<dyn AsyncRead + Send + Unpin>;

/// An HTTP answer to an IPP request, with its body still a stream.
struct HttpAnswer {
    http_status: u16,
    www_authenticate: Option<String>,
    /// The IPP message, when the status is 200 and the body parses.
    message: Option<Message>,
    /// Why a 200 body did not parse.
    parse_error: Option<String>,
    /// The rest of the body (a Fetch-Document's document).
    rest: BodyReader,
}

/// POSTs an IPP request (and document bytes after it) and reads the answer's IPP
/// message off the body stream, leaving what follows it unread.
async fn post_ipp(
    client: &reqwest::Client,
    url: &str,
    credentials: Option<(&str, &str)>,
    request: &Message,
    document: Option<&[u8]>,
) -> Result<HttpAnswer, String> {
    let mut body = encode(request);
    if let Some(document) = document {
        body.extend_from_slice(document);
    }
    let mut builder = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/ipp")
        .timeout(REQUEST_TIMEOUT)
        .body(body);
    if let Some((login, secret)) = credentials {
        builder = builder.basic_auth(login, Some(secret));
    }
    let response = builder.send().await.map_err(|e| error_chain(&e))?;
    let http_status = response.status().as_u16();
    let www_authenticate = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let stream = response.bytes_stream().map_err(std::io::Error::other);
    let mut rest: BodyReader = Box::new(StreamReader::new(Box::pin(stream)));
    let (message, parse_error) = if http_status == 200 {
        match read_message(&mut rest, RESPONSE_LIMITS).await {
            Ok(message) => (Some(message), None),
            Err(e) => (None, Some(format!("the answer is not IPP: {e}"))),
        }
    } else {
        (None, None)
    };
    Ok(HttpAnswer {
        http_status,
        www_authenticate,
        message,
        parse_error,
        rest,
    })
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// An attribute in any group (as libcups' ippFindAttribute looks).
fn find<'a>(message: &'a Message, name: &str) -> Option<&'a Attribute> {
    message.groups.iter().find_map(|g| g.get(name))
}

fn find_int(message: &Message, name: &str) -> Option<i32> {
    find(message, name)
        .and_then(|a| a.first())
        .and_then(Value::as_int)
}

fn find_str<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    find(message, name)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
}

/// ippproxy treats anything from redirection-other-site (0x0200) up as failure.
fn is_ok(code: u16) -> bool {
    code < 0x0200
}

/// "0x0420 (status-message)" for notes.
fn status_text(message: &Message) -> String {
    match message.operation_str("status-message") {
        Some(text) if !text.is_empty() => format!("0x{:04x} ({text})", message.code),
        _ => format!("0x{:04x}", message.code),
    }
}

/// The `xri-uri` of the first `printer-xri-supported` value that has one, in any group.
fn registered_printer_uri(message: &Message) -> Option<String> {
    let xri = find(message, "printer-xri-supported")?;
    xri.values.iter().find_map(|value| match value {
        Value::Collection(members) => members
            .iter()
            .find(|m| m.name == "xri-uri")
            .and_then(|m| m.first())
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    })
}

/// The event notification groups of a Get-Notifications answer.
fn events_of(message: &Message) -> Vec<Event> {
    message
        .groups
        .iter()
        .filter(|g| g.tag == group_tag::EVENT_NOTIFICATION)
        .map(|g| {
            let int = |name: &str| g.get(name).and_then(|a| a.first()).and_then(Value::as_int);
            Event {
                event: g
                    .get("notify-subscribed-event")
                    .and_then(|a| a.first())
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                job_id: int("job-id").or(int("notify-job-id")),
                seq: int("notify-sequence-number"),
                subscription_id: int("notify-subscription-id"),
                job_state: int("job-state"),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The background task
// ---------------------------------------------------------------------------------------

/// Why the task ends early.
enum Halt {
    /// A start-up step failed (ippproxy exits).
    Failed(String),
    /// The kill_during_fetch trap fired.
    Dead,
}

/// What the background task owns.
struct Device {
    config: DeviceConfig,
    uuid: String,
    client: reqwest::Client,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    /// The next server request goes without credentials (first_request_unauthenticated).
    challenge_pending: bool,
    system_uri: String,
    printer_uri: String,
    subscription_id: i32,
    /// The next notify-sequence-numbers to ask for.
    seq: i32,
    /// The local printer's printer attributes (Get-Printer-Attributes).
    local: Group,
    /// Jobs seen in Get-Jobs or job-fetchable events: each is processed once.
    known_jobs: HashSet<i32>,
}

impl Device {
    async fn run(mut self) {
        let end = match self.run_until_stopped().await {
            Ok(()) => Phase::Stopped,
            Err(Halt::Dead) => Phase::Killed,
            Err(Halt::Failed(why)) => {
                self.error(format!("start-up failed: {why}"));
                Phase::Failed
            }
        };
        self.shared.phase.send_replace(end);
        // Dropping `self` drops the client and its connections.
    }

    async fn run_until_stopped(&mut self) -> Result<(), Halt> {
        // Steps 1–4.
        if self.config.printer_uri.is_none() {
            self.register().await.map_err(Halt::Failed)?;
        }
        self.subscribe().await.map_err(Halt::Failed)?;
        self.read_local_printer().await;
        self.update_output_device_attributes()
            .await
            .map_err(Halt::Failed)?;
        let mut jobs = self.fetchable_jobs().await.map_err(Halt::Failed)?;
        self.shared.phase.send_replace(Phase::Running);

        // ippproxy hands the jobs of Get-Jobs to its job thread, lowest id first.
        jobs.sort_unstable();
        for job_id in jobs {
            if self.stopping() {
                break;
            }
            self.process_job(job_id).await?;
        }

        // Step 5, until stop.
        self.notification_loop().await?;

        // Step 7.
        self.unsubscribe_and_deregister().await;
        Ok(())
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps, or returns true early when the device is being stopped.
    async fn pause(&self, duration: Duration) -> bool {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(duration) => self.stopping(),
            _ = stop.wait_for(|s| *s) => true,
        }
    }

    fn error(&self, note: String) {
        self.shared.push(Step::error(note));
    }

    /// A request to the printer, with output-device-uuid when `with_uuid`.
    fn request(&self, operation: u16, with_uuid: bool) -> Message {
        infra_request(
            operation,
            &self.printer_uri,
            &self.config.login,
            with_uuid.then_some(self.uuid.as_str()),
        )
    }

    /// A per-job request: job-id and output-device-uuid (ippproxy's order).
    fn job_request(&self, operation: u16, job_id: i32) -> Message {
        let mut request = new_request(operation, &self.printer_uri, &self.config.login);
        request.groups[0].push(Attribute::new("job-id", Value::Integer(job_id)));
        request.groups[0].push(Attribute::new("output-device-uuid", Value::uri(&self.uuid)));
        request
    }

    // --- talking to the Infrastructure Printer ---------------------------------------

    /// Sends a request to the server and logs it. Does the 401 dance when the first
    /// request is to go without credentials. Returns the answer and its log index.
    async fn send(&mut self, request: &Message, url: &str) -> Result<(HttpAnswer, usize), String> {
        let mut authenticated = !std::mem::take(&mut self.challenge_pending);
        loop {
            let credentials =
                authenticated.then_some((self.config.login.as_str(), self.config.secret.as_str()));
            let mut step = Step::for_request(request, false, authenticated);
            let answer = match post_ipp(&self.client, url, credentials, request, None).await {
                Ok(answer) => answer,
                Err(e) => {
                    step.note = format!("no answer from {url}: {e}");
                    self.shared.push(step);
                    return Err(e);
                }
            };
            step.http_status = answer.http_status;
            step.status = answer.message.as_ref().map(|m| m.code);
            if let Some(why) = &answer.parse_error {
                step.note = why.clone();
            }
            if !authenticated {
                if answer.http_status == 401 {
                    let challenge = answer.www_authenticate.clone().unwrap_or_default();
                    step.note = if challenge.to_ascii_lowercase().starts_with("basic") {
                        format!("challenged: WWW-Authenticate: {challenge}")
                    } else {
                        format!("challenged, but not for Basic: WWW-Authenticate: {challenge:?}")
                    };
                    self.shared.push(step);
                    authenticated = true;
                    continue;
                }
                step.note = format!(
                    "the server answered a request without credentials (no 401 challenge). {}",
                    step.note
                );
            }
            let index = self.shared.push(step);
            return Ok((answer, index));
        }
    }

    /// Sends to the printer URI; an error unless HTTP 200 with an IPP answer (whatever
    /// its status).
    async fn call(&mut self, request: &Message) -> Result<(Message, BodyReader, usize), String> {
        let url = http_url(&self.printer_uri)?;
        self.call_url(request, &url).await
    }

    async fn call_url(
        &mut self,
        request: &Message,
        url: &str,
    ) -> Result<(Message, BodyReader, usize), String> {
        let (answer, index) = self.send(request, url).await?;
        match answer.message {
            Some(message) => Ok((message, answer.rest, index)),
            None => Err(answer.parse_error.unwrap_or_else(|| {
                format!(
                    "{} answered HTTP {}",
                    op_name(request.code),
                    answer.http_status
                )
            })),
        }
    }

    /// Step 1: Register-Output-Device to the system URI.
    async fn register(&mut self) -> Result<(), String> {
        let mut request = new_request(
            op::REGISTER_OUTPUT_DEVICE,
            &self.system_uri,
            &self.config.login,
        );
        // Its target is the System: system-uri takes printer-uri's place.
        for attribute in &mut request.groups[0].attributes {
            if attribute.name == "printer-uri" {
                *attribute = Attribute::new("system-uri", Value::uri(&self.system_uri));
            }
        }
        request.groups[0].push(Attribute::new("output-device-uuid", Value::uri(&self.uuid)));
        request.groups[0].push(Attribute::new(
            "printer-service-type",
            Value::keyword("print"),
        ));
        let url = http_url(&self.system_uri)?;
        let (answer, _, index) = self.call_url(&request, &url).await?;
        if answer.code >= 0x0400 {
            return Err(format!("Register-Output-Device: {}", status_text(&answer)));
        }
        let uri = registered_printer_uri(&answer).ok_or(
            "the Register-Output-Device answer has no printer-xri-supported with an xri-uri",
        )?;
        self.shared
            .amend(index, |s| s.note = format!("printer URI {uri}"));
        self.printer_uri = uri.clone();
        *self.shared.printer_uri.lock().unwrap() = Some(uri);
        Ok(())
    }

    /// Step 2: Create-Printer-Subscriptions; ippproxy needs exactly successful-ok.
    async fn subscribe(&mut self) -> Result<(), String> {
        let mut request = self.request(op::CREATE_PRINTER_SUBSCRIPTIONS, false);
        let mut subscription = Group::new(group_tag::SUBSCRIPTION);
        subscription.push(Attribute::new(
            "notify-pull-method",
            Value::keyword("ippget"),
        ));
        subscription.push(Attribute::many(
            "notify-events",
            EVENTS.iter().map(|e| Value::keyword(e)).collect(),
        ));
        subscription.push(Attribute::new("notify-lease-duration", Value::Integer(0)));
        request.groups.push(subscription);
        let (answer, _, _) = self.call(&request).await?;
        if answer.code != 0x0000 {
            return Err(format!(
                "Create-Printer-Subscriptions: {}",
                status_text(&answer)
            ));
        }
        let id = find_int(&answer, "notify-subscription-id")
            .ok_or("the Create-Printer-Subscriptions answer has no notify-subscription-id")?;
        self.subscription_id = id;
        *self.shared.subscription_id.lock().unwrap() = Some(id);
        Ok(())
    }

    /// Step 3a: Get-Printer-Attributes from the local printer. ippproxy goes on without
    /// attributes when the printer fails; so does this (logged).
    async fn read_local_printer(&mut self) {
        let mut request = new_request(
            op::GET_PRINTER_ATTRIBUTES,
            &self.config.local_printer,
            &self.config.login,
        );
        request.groups[0].push(Attribute::many(
            "requested-attributes",
            DEVICE_ATTRIBUTES
                .iter()
                .map(|a| Value::keyword(a))
                .collect(),
        ));
        match self.local_call(&request, None, Some("")).await {
            Ok(answer) if is_ok(answer.code) => {
                if let Some(printer) = answer.group(group::PRINTER) {
                    self.local = printer.clone();
                }
            }
            Ok(answer) => self.error(format!(
                "the local printer refused Get-Printer-Attributes: {}",
                status_text(&answer)
            )),
            Err(e) => self.error(format!("the local printer: {e}")),
        }
    }

    /// Step 3b: Update-Output-Device-Attributes with the local printer's attributes;
    /// ippproxy needs exactly successful-ok.
    async fn update_output_device_attributes(&mut self) -> Result<(), String> {
        let mut request = self.request(op::UPDATE_OUTPUT_DEVICE_ATTRIBUTES, true);
        let mut printer = Group::new(group::PRINTER);
        for attribute in &self.local.attributes {
            if DEVICE_ATTRIBUTES.contains(&attribute.name.as_str()) {
                printer.push(attribute.clone());
            }
        }
        request.groups.push(printer);
        let (answer, _, _) = self.call(&request).await?;
        if answer.code != 0x0000 {
            return Err(format!(
                "Update-Output-Device-Attributes: {}",
                status_text(&answer)
            ));
        }
        Ok(())
    }

    /// Step 4: Get-Jobs which-jobs=fetchable, once. Like ippproxy, keeps the jobs whose
    /// job-state is pending or processing-stopped, or not given.
    async fn fetchable_jobs(&mut self) -> Result<Vec<i32>, String> {
        let mut request = self.request(op::GET_JOBS, false);
        request.groups[0].push(Attribute::new("which-jobs", Value::keyword("fetchable")));
        request.groups[0].push(Attribute::new("output-device-uuid", Value::uri(&self.uuid)));
        let (answer, _, index) = self.call(&request).await?;
        let mut jobs = Vec::new();
        let mut skipped = Vec::new();
        for job in answer.groups.iter().filter(|g| g.tag == group::JOB) {
            let int = |name: &str| {
                job.get(name)
                    .and_then(|a| a.first())
                    .and_then(Value::as_int)
            };
            let Some(job_id) = int("job-id").filter(|id| *id > 0) else {
                continue;
            };
            match int("job-state") {
                None | Some(state::PENDING) | Some(state::PROCESSING_STOPPED) => {
                    if self.known_jobs.insert(job_id) {
                        jobs.push(job_id);
                    }
                }
                Some(other) => skipped.push(format!("{job_id} (job-state {other})")),
            }
        }
        let mut note = format!("fetchable jobs {jobs:?}");
        if !skipped.is_empty() {
            note.push_str(&format!("; not fetched: {}", skipped.join(", ")));
        }
        self.shared.amend(index, |s| s.note = note);
        Ok(jobs)
    }

    /// Step 5: Get-Notifications until stopped; job-fetchable events start jobs.
    async fn notification_loop(&mut self) -> Result<(), Halt> {
        let mut backoff = Duration::from_secs(1);
        while !self.stopping() {
            let mut request = self.request(op::GET_NOTIFICATIONS, false);
            let ops = &mut request.groups[0];
            ops.push(Attribute::new(
                "notify-subscription-ids",
                Value::Integer(self.subscription_id),
            ));
            ops.push(Attribute::new(
                "notify-sequence-numbers",
                Value::Integer(self.seq),
            ));
            ops.push(Attribute::new("notify-wait", Value::Boolean(true)));

            // The server may hold the request: stop must not wait for it.
            let mut stop = self.stop.clone();
            let answer = tokio::select! {
                answer = self.call(&request) => Some(answer),
                _ = stop.wait_for(|s| *s) => None,
            };
            let Some(answer) = answer else {
                let mut step = Step::for_request(&request, false, true);
                step.note = "no answer: the device was stopped while waiting".into();
                self.shared.push(step);
                break;
            };
            let answer = match answer {
                Ok((answer, _, index)) => (answer, index),
                Err(_) => {
                    // Logged by `send`. ippproxy waits 30 s; tests cannot.
                    if self.pause(backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            let (answer, index) = answer;
            backoff = Duration::from_secs(1);

            let events = events_of(&answer);
            for event in &events {
                if let Some(seq) = event.seq.filter(|s| *s >= self.seq) {
                    self.seq = seq + 1;
                }
            }
            let mut fetchable: Vec<i32> = events
                .iter()
                .filter(|e| e.event == "job-fetchable")
                .filter_map(|e| e.job_id)
                .filter(|id| !self.known_jobs.contains(id))
                .collect();
            fetchable.sort_unstable();
            fetchable.dedup();
            let any_job_event = events.iter().any(|e| e.job_id.is_some());
            self.shared.amend(index, |s| s.events = events);
            if !is_ok(answer.code) {
                self.shared.amend(index, |s| s.note = status_text(&answer));
            }

            for job_id in fetchable {
                if self.stopping() {
                    break;
                }
                self.known_jobs.insert(job_id);
                self.process_job(job_id).await?;
            }

            // ippproxy polls again at once after job events, else after
            // notify-get-interval (1 s when absent), capped at 30 s.
            let interval = if any_job_event {
                0
            } else {
                find_int(&answer, "notify-get-interval")
                    .unwrap_or(1)
                    .clamp(0, MAX_GET_INTERVAL)
            };
            if interval > 0 && self.pause(Duration::from_secs(interval as u64)).await {
                break;
            }
        }
        Ok(())
    }

    /// Step 7: Cancel-Subscription, then Deregister-Output-Device (ippsample master's
    /// order). Failures are only logged.
    async fn unsubscribe_and_deregister(&mut self) {
        let mut request = self.request(op::CANCEL_SUBSCRIPTION, false);
        request.groups[0].push(Attribute::new(
            "notify-subscription-id",
            Value::Integer(self.subscription_id),
        ));
        let _ = self.call(&request).await;
        let request = self.request(op::DEREGISTER_OUTPUT_DEVICE, true);
        let _ = self.call(&request).await;
    }

    // --- step 6: one job --------------------------------------------------------------

    async fn process_job(&mut self, job_id: i32) -> Result<(), Halt> {
        // Fetch-Job.
        let request = self.job_request(op::FETCH_JOB, job_id);
        let job = match self.call(&request).await {
            Ok((answer, _, _)) if answer.code == status::NOT_FETCHABLE => {
                // ippproxy: "Job already fetched by another printer." Nothing more.
                return Ok(());
            }
            Ok((answer, _, _)) if is_ok(answer.code) => answer
                .group(group::JOB)
                .cloned()
                .unwrap_or(Group::new(group::JOB)),
            Ok((answer, _, _)) => {
                self.error(format!("job {job_id}: Fetch-Job {}", status_text(&answer)));
                return self.finish_job(job_id, state::ABORTED).await;
            }
            Err(e) => {
                self.error(format!("job {job_id}: Fetch-Job: {e}"));
                return self.finish_job(job_id, state::ABORTED).await;
            }
        };

        // Acknowledge-Job.
        let request = self.job_request(op::ACKNOWLEDGE_JOB, job_id);
        match self.call(&request).await {
            Ok((answer, _, _)) if is_ok(answer.code) => {}
            Ok((answer, _, _)) => {
                self.error(format!(
                    "job {job_id}: Acknowledge-Job {}",
                    status_text(&answer)
                ));
                return self.finish_job(job_id, state::ABORTED).await;
            }
            Err(e) => {
                self.error(format!("job {job_id}: Acknowledge-Job: {e}"));
                return self.finish_job(job_id, state::ABORTED).await;
            }
        }

        let documents = job
            .get("number-of-documents")
            .and_then(|a| a.first())
            .and_then(Value::as_int)
            .filter(|n| *n >= 1)
            .unwrap_or(1);
        self.update_job_status(job_id, state::PROCESSING).await;

        let mut outcome = state::COMPLETED;
        for number in 1..=documents {
            self.update_document_status(job_id, number, state::PROCESSING)
                .await;
            let Some(document) = self.fetch_document(job_id, number).await? else {
                // ippproxy: no acknowledgement of a document it could not fetch.
                outcome = state::ABORTED;
                break;
            };
            let printed = match self.print_locally(job_id, &job, &document).await {
                Ok(()) => true,
                Err(e) => {
                    self.error(format!(
                        "job {job_id} document {number}: local printer: {e}"
                    ));
                    false
                }
            };
            let document_state = if printed {
                state::COMPLETED
            } else {
                state::ABORTED
            };
            self.update_document_status(job_id, number, document_state)
                .await;
            let mut request = self.job_request(op::ACKNOWLEDGE_DOCUMENT, job_id);
            insert_after_job_id(&mut request, "document-number", number);
            let _ = self.call(&request).await;
            if !printed {
                outcome = state::ABORTED;
                break;
            }
        }
        self.finish_job(job_id, outcome).await
    }

    /// The last Update-Job-Status of a job, and its outcome for `wait_for_printed`.
    async fn finish_job(&mut self, job_id: i32, outcome: i32) -> Result<(), Halt> {
        self.update_job_status(job_id, outcome).await;
        self.shared.outcomes.lock().unwrap().insert(job_id, outcome);
        Ok(())
    }

    /// Update-Job-Status: output-device-job-state in the job group (as ippproxy).
    async fn update_job_status(&mut self, job_id: i32, job_state: i32) {
        let mut request = self.job_request(op::UPDATE_JOB_STATUS, job_id);
        let mut job = Group::new(group::JOB);
        job.push(Attribute::new(
            "output-device-job-state",
            Value::Enum(job_state),
        ));
        request.groups.push(job);
        let _ = self.call(&request).await;
    }

    /// Update-Document-Status: output-device-document-state in the document group
    /// (ippsample master; older ippproxy put it in the job group).
    async fn update_document_status(&mut self, job_id: i32, number: i32, document_state: i32) {
        let mut request = self.job_request(op::UPDATE_DOCUMENT_STATUS, job_id);
        insert_after_job_id(&mut request, "document-number", number);
        let mut document = Group::new(group_tag::DOCUMENT);
        document.push(Attribute::new(
            "output-device-document-state",
            Value::Enum(document_state),
        ));
        request.groups.push(document);
        let _ = self.call(&request).await;
    }

    /// Fetch-Document: the answer's attributes, then the document to the end of the body.
    /// `Ok(None)` when it could not be fetched (logged); `Err(Dead)` when the trap fired.
    async fn fetch_document(
        &mut self,
        job_id: i32,
        number: i32,
    ) -> Result<Option<FetchedDocument>, Halt> {
        let mut request = self.job_request(op::FETCH_DOCUMENT, job_id);
        insert_after_job_id(&mut request, "document-number", number);
        let formats: Vec<Value> = self
            .local
            .get("document-format-supported")
            .map(|a| a.values.clone())
            .unwrap_or_default();
        if !formats.is_empty() {
            request.groups[0].push(Attribute::many("document-format-accepted", formats));
        }
        let (answer, mut body, index) = match self.call(&request).await {
            Ok(reply) => reply,
            Err(e) => {
                self.error(format!(
                    "job {job_id} document {number}: Fetch-Document: {e}"
                ));
                return Ok(None);
            }
        };
        if !is_ok(answer.code) {
            self.error(format!(
                "job {job_id} document {number}: Fetch-Document {}",
                status_text(&answer)
            ));
            return Ok(None);
        }
        let format = find_str(&answer, "document-format").map(str::to_owned);
        let compression = find_str(&answer, "compression")
            .unwrap_or("none")
            .to_owned();

        if self.shared.kill_during_fetch.swap(false, Ordering::SeqCst) {
            // Read the first bytes, then die with the connection half-read.
            let mut first = vec![0u8; 1024];
            let n = body.read(&mut first).await.unwrap_or(0);
            self.shared.amend(index, |s| {
                s.note = format!("killed (trap) after the first {n} bytes of the document");
            });
            return Err(Halt::Dead);
        }

        let mut bytes = Vec::new();
        if let Err(e) = body.read_to_end(&mut bytes).await {
            self.shared.amend(index, |s| {
                s.note = format!("the document broke off after {} bytes: {e}", bytes.len());
            });
            return Ok(None);
        }
        let received = bytes.len();
        let bytes = match compression.as_str() {
            "none" => bytes,
            "gzip" => {
                let mut plain = Vec::new();
                if let Err(e) =
                    flate2::read::GzDecoder::new(bytes.as_slice()).read_to_end(&mut plain)
                {
                    self.error(format!("job {job_id} document {number}: gzip: {e}"));
                    return Ok(None);
                }
                plain
            }
            other => {
                self.error(format!(
                    "job {job_id} document {number}: unsupported compression {other:?}"
                ));
                return Ok(None);
            }
        };
        let note = format!(
            "document-format {}, compression {compression}, {received} bytes received, {} bytes of document",
            format.as_deref().unwrap_or("(none)"),
            bytes.len()
        );
        self.shared.amend(index, |s| s.note = note);
        let document = FetchedDocument {
            document_number: number,
            format,
            compression,
            bytes,
        };
        self.shared
            .documents
            .lock()
            .unwrap()
            .entry(job_id)
            .or_default()
            .push(document.clone());
        Ok(Some(document))
    }

    // --- the local printer --------------------------------------------------------------

    /// Sends a request to the local printer (plain HTTP, no credentials). Logs it with
    /// `note` when one is given; unlogged Get-Job-Attributes polls are summed up by the
    /// caller. Failures are always logged.
    async fn local_call(
        &self,
        request: &Message,
        document: Option<&[u8]>,
        note: Option<&str>,
    ) -> Result<Message, String> {
        let url = http_url(&self.config.local_printer)?;
        let mut step = Step::for_request(request, true, false);
        let result = post_ipp(&self.client, &url, None, request, document).await;
        let result = match result {
            Ok(answer) => {
                step.http_status = answer.http_status;
                step.status = answer.message.as_ref().map(|m| m.code);
                answer.message.ok_or_else(|| {
                    answer
                        .parse_error
                        .unwrap_or_else(|| format!("HTTP {}", answer.http_status))
                })
            }
            Err(e) => Err(e),
        };
        step.note = note.unwrap_or_default().to_owned();
        if let Err(e) = &result {
            step.note = e.clone();
        }
        if note.is_some() || result.is_err() {
            self.shared.push(step);
        }
        result
    }

    /// Whether the local printer's `name` (a -supported attribute) allows `value`;
    /// true when the printer did not say.
    fn local_supports(&self, name: &str, value: &Value) -> bool {
        let Some(supported) = self.local.get(name) else {
            return true;
        };
        supported.values.iter().any(|s| match (s, value) {
            (Value::Range(lo, hi), Value::Integer(n)) => (lo..=hi).contains(&n),
            (Value::Integer(max), Value::Integer(n)) => n <= max,
            (s, v) => s.as_str().is_some() && s.as_str() == v.as_str(),
        })
    }

    /// Print-Job on the local printer with the document and the job's copies, sides and
    /// print-color-mode (those the printer supports), then Get-Job-Attributes until the
    /// job is done. Ok when it completed.
    async fn print_locally(
        &self,
        job_id: i32,
        job: &Group,
        document: &FetchedDocument,
    ) -> Result<(), String> {
        let local_uri = self.config.local_printer.clone();
        let mut request = new_request(op::PRINT_JOB, &local_uri, &self.config.login);
        request.groups[0].push(Attribute::new(
            "job-name",
            Value::name(&format!(
                "INFRA job {job_id} document {}",
                document.document_number
            )),
        ));
        request.groups[0].push(Attribute::new(
            "document-format",
            Value::mime(
                document
                    .format
                    .as_deref()
                    .unwrap_or("application/octet-stream"),
            ),
        ));
        let mut template = Group::new(group::JOB);
        let mut dropped = Vec::new();
        for name in ["copies", "sides", "print-color-mode"] {
            let Some(value) = job.get(name).and_then(|a| a.first()) else {
                continue;
            };
            if self.local_supports(&format!("{name}-supported"), value) {
                template.push(Attribute::new(name, value.clone()));
            } else {
                dropped.push(format!("{name}={}", show(value)));
            }
        }
        if !template.attributes.is_empty() {
            request.groups.push(template);
        }
        let note = if dropped.is_empty() {
            String::new()
        } else {
            format!("sent without {} (not supported here)", dropped.join(", "))
        };

        // ippeveprinter prints one job at a time: busy means try again.
        let deadline = Instant::now() + LOCAL_JOB_TIMEOUT;
        let answer = loop {
            let answer = self
                .local_call(&request, Some(&document.bytes), Some(&note))
                .await?;
            if answer.code != status::BUSY || Instant::now() >= deadline {
                break answer;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        if !is_ok(answer.code) {
            return Err(format!("Print-Job {}", status_text(&answer)));
        }
        let local_job = find_int(&answer, "job-id").ok_or("Print-Job answered no job-id")?;

        let mut polls = 0;
        loop {
            let mut poll = new_request(op::GET_JOB_ATTRIBUTES, &local_uri, &self.config.login);
            poll.groups[0].push(Attribute::new("job-id", Value::Integer(local_job)));
            poll.groups[0].push(Attribute::new(
                "requested-attributes",
                Value::keyword("job-state"),
            ));
            polls += 1;
            let answer = self.local_call(&poll, None, None).await?;
            let job_state = find_int(&answer, "job-state").unwrap_or(0);
            let timed_out = Instant::now() >= deadline;
            if job_state >= state::CANCELED || timed_out {
                // One log entry for all the polls.
                let mut step = Step::for_request(&poll, true, false);
                step.http_status = 200;
                step.status = Some(answer.code);
                step.note =
                    format!("local job {local_job}: job-state {job_state} after {polls} polls");
                self.shared.push(step);
                return match job_state {
                    state::COMPLETED => Ok(()),
                    _ if timed_out => Err(format!(
                        "local job {local_job} not done after {LOCAL_JOB_TIMEOUT:?}"
                    )),
                    other => Err(format!("local job {local_job} ended in job-state {other}")),
                };
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A value as people read it: `two-sided-long-edge`, `2`.
fn show(value: &Value) -> String {
    match value {
        Value::String(_, s) => s.clone(),
        Value::Integer(n) | Value::Enum(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// Puts an integer operation attribute right after `job-id` (ippproxy's order:
/// printer-uri, job-id, document-number, output-device-uuid, …).
fn insert_after_job_id(request: &mut Message, name: &str, value: i32) {
    let ops = &mut request.groups[0].attributes;
    let at = ops
        .iter()
        .position(|a| a.name == "job-id")
        .map_or(ops.len(), |i| i + 1);
    ops.insert(at, Attribute::new(name, Value::Integer(value)));
}
