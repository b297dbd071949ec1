//! Release latency: from the "Print all" tap at a release station to the first byte at
//! the printer and to the printer's completion.
//!
//! Run: `cargo bench --bench release` (about a minute after the build). Options, after
//! `--`: `--rounds N` rounds of every size (default 20 for 1 job, 3 for 10 and 100
//! jobs), `--sizes 1,10,100`, `--big-mib N` size of the big job (100; 0 skips it),
//! `--big-rounds N` (1), `--no-ippeveprinter`, `--postgres URL` (a fresh database is
//! made on that cluster and dropped afterwards; default SQLite in the temp dir).
//!
//! What it does:
//! - starts the server in this process, as the tests do (`Services::start` on a temp
//!   data dir, SQLite and local disk, `web::serve_on` on 127.0.0.1:0 with its
//!   self-signed certificate, the release workers), makes an admin and a user with a
//!   PIN through `services.identity`;
//! - starts a printer of its own in this process: plain IPP over HTTP/1.1 on
//!   127.0.0.1:0, written with the project's codec (`ipp::wire`). It answers
//!   Get-Printer-Attributes (idle, accepting, PDF), Print-Job (reads the whole body,
//!   chunked or Content-Length, and notes when the first and the last document byte
//!   arrived) and Get-Job-Attributes (completed once the body was in). It hashes
//!   (SHA-256) and counts every document, and the bench checks them against what was
//!   parked: a round with a missing, doubled or different document fails the bench;
//! - each round parks N jobs (page 1 of tests/fixtures/documents/document-a4.pdf, or a
//!   generated PDF-looking stream of `--big-mib` MiB, streamed from a generator into
//!   `jobs.park`), signs the user in at the printer's release station with login + PIN
//!   (HTTPS forms with CSRF, like a station's browser; not timed), then t0 = just
//!   before the POST of the station's "Print all" form, on the station browser's
//!   keep-alive connection. "printed" is the release's state as PrintPark records it,
//!   seen by polling `db.releases_of_user` every 5 ms;
//! - the same 1- and 10-job rounds against a real `ippeveprinter` (Debian
//!   `cups-ipp-utils`; with a private `dbus-daemon`, as tests/support/printer.rs starts
//!   it, and a print command that ends at once). Its inside cannot be seen, so only
//!   "tap → printed in PrintPark" is reported; its spooled files are checked (length +
//!   SHA-256) against what was parked.
//!
//! The bench, its printer and the server share this process and its 2 cores: the
//! printer's hashing costs CPU the server would otherwise have, and the peak RSS of
//! the big job (VmHWM of this process, reset before the tap through
//! /proc/self/clear_refs) covers all three.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark that cannot go on stops with the reason"
)]

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use printpark::config::{Secret, Settings};
use printpark::identity::{ClientInfo, NewUserRequest, User};
use printpark::ipp::wire::{self, Attribute, Group, Limits, Message, Value, group, tag};
use printpark::ipp::{op, status};
use printpark::release::PrinterForm;
use printpark::services::Services;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;
use common::{
    MIB, big_document, create_admin, fsync_ms, machine, ms, one_page_pdf, percentile, portal_pdf,
    proc_status_kib,
};

const USER: &str = "ann";
const PASSWORD: &str = "ann's long password";
const PIN: &str = "482916";
/// How often the bench looks at the releases' states in the database.
const DB_POLL: Duration = Duration::from_millis(5);

// ---------------------------------------------------------------------------------
// Options

struct Options {
    rounds: Option<usize>,
    sizes: Vec<usize>,
    big_mib: u64,
    big_rounds: usize,
    ippeveprinter: bool,
    postgres: Option<String>,
}

impl Options {
    fn rounds_for(&self, jobs: usize) -> usize {
        self.rounds.unwrap_or(if jobs == 1 { 20 } else { 3 })
    }
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
        rounds: value("--rounds").and_then(|s| s.parse().ok()),
        sizes: value("--sizes")
            .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![1, 10, 100]),
        big_mib: value("--big-mib")
            .and_then(|s| s.parse().ok())
            .unwrap_or(100),
        big_rounds: value("--big-rounds")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1),
        ippeveprinter: !args.iter().any(|a| a == "--no-ippeveprinter"),
        postgres: value("--postgres"),
    }
}

// ---------------------------------------------------------------------------------
// The bench's printer: plain IPP over HTTP/1.1, one task per connection.

/// One Print-Job as the printer saw it.
#[derive(Clone, Debug)]
struct Received {
    job_id: i32,
    name: String,
    /// The TCP connection that carried it was accepted.
    accepted_at: Instant,
    /// The first document byte (after the IPP attributes) arrived.
    first_byte_at: Instant,
    /// The body was complete (terminating chunk or Content-Length reached).
    last_byte_at: Instant,
    bytes: u64,
    sha256: [u8; 32],
}

/// One Get-Printer-Attributes (the check before a release).
#[derive(Clone, Copy, Debug)]
struct Check {
    arrived: Instant,
    answered: Instant,
}

#[derive(Default)]
struct PrinterLog {
    checks: Vec<Check>,
    jobs: Vec<Received>,
    /// Get-Job-Attributes arrivals per printer job id.
    polls: HashMap<i32, Vec<Instant>>,
    errors: Vec<String>,
}

struct BenchPrinter {
    port: u16,
    log: Arc<Mutex<PrinterLog>>,
    accept: tokio::task::JoinHandle<()>,
}

impl BenchPrinter {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(PrinterLog::default()));
        let next_job = Arc::new(std::sync::atomic::AtomicI32::new(1));
        let accept = {
            let log = log.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let accepted_at = Instant::now();
                    let _ = stream.set_nodelay(true);
                    let (log, next_job) = (log.clone(), next_job.clone());
                    tokio::spawn(async move {
                        let mut conn = Conn::new(stream, accepted_at);
                        if let Err(why) = serve(&mut conn, port, &log, &next_job).await {
                            log.lock().unwrap().errors.push(why);
                        }
                    });
                }
            })
        };
        Self { port, log, accept }
    }

    fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/ipp/print", self.port)
    }
}

impl Drop for BenchPrinter {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A connection with a read buffer that remembers when each read arrived.
struct Conn {
    stream: TcpStream,
    accepted_at: Instant,
    buf: BytesMut,
    /// Stream offset just past the buffer's last byte.
    end: u64,
    /// (stream offset just past a read's last byte, when that read returned).
    arrivals: Vec<(u64, Instant)>,
}

impl Conn {
    fn new(stream: TcpStream, accepted_at: Instant) -> Self {
        Self {
            stream,
            accepted_at,
            buf: BytesMut::with_capacity(128 * 1024),
            end: 0,
            arrivals: Vec::new(),
        }
    }

    /// Reads more; false at EOF.
    async fn fill(&mut self) -> Result<bool, String> {
        self.buf.reserve(64 * 1024);
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Ok(false);
        }
        self.end += n as u64;
        let start = self.start();
        self.arrivals.retain(|(end, _)| *end > start);
        self.arrivals.push((self.end, Instant::now()));
        Ok(true)
    }

    /// Stream offset of the buffer's first byte.
    fn start(&self) -> u64 {
        self.end - self.buf.len() as u64
    }

    /// When the buffer's first byte arrived.
    fn first_arrival(&self) -> Instant {
        let start = self.start();
        self.arrivals
            .iter()
            .find(|(end, _)| *end > start)
            .map(|(_, at)| *at)
            .unwrap_or_else(Instant::now)
    }

    async fn line(&mut self) -> Result<Option<String>, String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.advance(i + 2);
                return Ok(Some(line));
            }
            if self.buf.len() > 64 * 1024 {
                return Err("line too long".into());
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Hands every body byte to `sink` with the arrival time of its first byte.
    async fn body(
        &mut self,
        headers: &HashMap<String, String>,
        sink: &mut BodySink,
    ) -> Result<(), String> {
        let chunked = headers
            .get("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            loop {
                let size_line = self.line().await?.ok_or("EOF in chunk size")?;
                let size = u64::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                    .map_err(|_| format!("chunk size {size_line:?}"))?;
                if size == 0 {
                    while !self.line().await?.ok_or("EOF in trailer")?.is_empty() {}
                    return Ok(());
                }
                self.data(size, sink).await?;
                if !self.line().await?.ok_or("EOF after chunk")?.is_empty() {
                    return Err("chunk without CRLF".into());
                }
            }
        } else {
            let length: u64 = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            self.data(length, sink).await
        }
    }

    async fn data(&mut self, mut left: u64, sink: &mut BodySink) -> Result<(), String> {
        while left > 0 {
            if self.buf.is_empty() && !self.fill().await? {
                return Err("EOF in body".into());
            }
            let n = (left as usize).min(self.buf.len());
            let at = self.first_arrival();
            let piece = self.buf.split_to(n).freeze();
            sink.feed(piece, at).await?;
            left -= n as u64;
        }
        Ok(())
    }
}

/// An IPP request body: attributes first, then the document (hashed, counted).
struct BodySink {
    pending: Vec<u8>,
    message: Option<Message>,
    bytes: u64,
    hasher: Sha256,
    first_byte_at: Option<Instant>,
}

impl BodySink {
    fn new() -> Self {
        Self {
            pending: Vec::new(),
            message: None,
            bytes: 0,
            hasher: Sha256::new(),
            first_byte_at: None,
        }
    }

    async fn feed(&mut self, piece: Bytes, at: Instant) -> Result<(), String> {
        if self.message.is_some() {
            self.document(&piece, at);
            return Ok(());
        }
        self.pending.extend_from_slice(&piece);
        let mut rest = &self.pending[..];
        match wire::read_message(&mut rest, Limits::default()).await {
            Ok(message) => {
                // Document bytes that came in the same piece as the end of the attributes.
                let document = rest.to_vec();
                self.message = Some(message);
                self.pending = Vec::new();
                self.document(&document, at);
                Ok(())
            }
            Err(wire::WireError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(()),
            Err(e) => Err(format!("IPP request: {e}")),
        }
    }

    fn document(&mut self, bytes: &[u8], at: Instant) {
        if bytes.is_empty() {
            return;
        }
        self.first_byte_at.get_or_insert(at);
        self.bytes += bytes.len() as u64;
        self.hasher.update(bytes);
    }
}

async fn serve(
    conn: &mut Conn,
    port: u16,
    log: &Mutex<PrinterLog>,
    next_job: &std::sync::atomic::AtomicI32,
) -> Result<(), String> {
    loop {
        // Request line and headers.
        let Some(request_line) = conn.line().await? else {
            return Ok(());
        };
        let arrived = conn
            .arrivals
            .first()
            .map(|(_, at)| *at)
            .unwrap_or_else(Instant::now);
        if !request_line.starts_with("POST ") {
            conn.stream
                .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await
                .ok();
            return Err(format!("unexpected request {request_line:?}"));
        }
        let mut headers = HashMap::new();
        loop {
            let line = conn.line().await?.ok_or("EOF in headers")?;
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        if headers
            .get("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            conn.stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut sink = BodySink::new();
        conn.body(&headers, &mut sink).await?;
        let last_byte_at = Instant::now();
        let request = sink.message.take().ok_or("no IPP message in the body")?;
        let mut response = answer_head(&request, status::OK);
        let mut record_check = false;
        match request.code {
            op::GET_PRINTER_ATTRIBUTES => {
                response.groups.push(printer_attributes(port));
                record_check = true;
            }
            op::PRINT_JOB => {
                let job_id = next_job.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let received = Received {
                    job_id,
                    name: request.operation_str("job-name").unwrap_or("").to_owned(),
                    accepted_at: conn.accepted_at,
                    first_byte_at: sink.first_byte_at.unwrap_or(last_byte_at),
                    last_byte_at,
                    bytes: sink.bytes,
                    sha256: sink.hasher.finalize().into(),
                };
                log.lock().unwrap().jobs.push(received);
                response.groups.push(job_attributes(port, job_id));
            }
            op::GET_JOB_ATTRIBUTES => {
                let job_id = request.operation_int("job-id").unwrap_or(0);
                let known = {
                    let mut log = log.lock().unwrap();
                    log.polls.entry(job_id).or_default().push(arrived);
                    log.jobs.iter().any(|j| j.job_id == job_id)
                };
                if known {
                    response.groups.push(job_attributes(port, job_id));
                } else {
                    response.code = status::NOT_FOUND;
                }
            }
            _ => response.code = status::OPERATION_NOT_SUPPORTED,
        }
        let ipp = wire::encode(&response);
        let close = headers
            .get("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let mut http = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\n{}\r\n",
            ipp.len(),
            if close { "Connection: close\r\n" } else { "" }
        )
        .into_bytes();
        http.extend_from_slice(&ipp);
        conn.stream
            .write_all(&http)
            .await
            .map_err(|e| format!("write: {e}"))?;
        if record_check {
            log.lock().unwrap().checks.push(Check {
                arrived,
                answered: Instant::now(),
            });
        }
        if close {
            let _ = conn.stream.shutdown().await;
            return Ok(());
        }
        conn.arrivals.clear();
    }
}

fn answer_head(request: &Message, code: u16) -> Message {
    let mut ops = Group::new(group::OPERATION);
    ops.push(Attribute::new(
        "attributes-charset",
        Value::String(tag::CHARSET, "utf-8".into()),
    ));
    ops.push(Attribute::new(
        "attributes-natural-language",
        Value::String(tag::LANGUAGE, "en".into()),
    ));
    Message {
        version: request.version,
        code,
        request_id: request.request_id,
        groups: vec![ops],
    }
}

fn printer_attributes(port: u16) -> Group {
    let mut g = Group::new(group::PRINTER);
    let uri = format!("ipp://127.0.0.1:{port}/ipp/print");
    g.push(Attribute::new("printer-uri-supported", Value::uri(&uri)));
    g.push(Attribute::new(
        "uri-security-supported",
        Value::keyword("none"),
    ));
    g.push(Attribute::new(
        "uri-authentication-supported",
        Value::keyword("none"),
    ));
    g.push(Attribute::new("printer-name", Value::name("bench")));
    g.push(Attribute::new(
        "printer-make-and-model",
        Value::text("PrintPark bench printer"),
    ));
    g.push(Attribute::new("printer-state", Value::Enum(3)));
    g.push(Attribute::new(
        "printer-state-reasons",
        Value::keyword("none"),
    ));
    g.push(Attribute::new(
        "printer-state-message",
        Value::text("Ready."),
    ));
    g.push(Attribute::new(
        "printer-is-accepting-jobs",
        Value::Boolean(true),
    ));
    g.push(Attribute::many(
        "document-format-supported",
        vec![
            Value::mime("application/pdf"),
            Value::mime("application/octet-stream"),
        ],
    ));
    g.push(Attribute::new(
        "document-format-default",
        Value::mime("application/octet-stream"),
    ));
    g.push(Attribute::many(
        "operations-supported",
        [
            op::PRINT_JOB,
            op::VALIDATE_JOB,
            op::CANCEL_JOB,
            op::GET_JOB_ATTRIBUTES,
            op::GET_JOBS,
            op::GET_PRINTER_ATTRIBUTES,
        ]
        .iter()
        .map(|o| Value::Enum(i32::from(*o)))
        .collect(),
    ));
    g.push(Attribute::new(
        "multiple-document-jobs-supported",
        Value::Boolean(false),
    ));
    g.push(Attribute::new("color-supported", Value::Boolean(false)));
    g.push(Attribute::new(
        "sides-supported",
        Value::keyword("one-sided"),
    ));
    g.push(Attribute::new(
        "media-supported",
        Value::keyword("iso_a4_210x297mm"),
    ));
    g.push(Attribute::new(
        "charset-configured",
        Value::String(tag::CHARSET, "utf-8".into()),
    ));
    g.push(Attribute::new(
        "charset-supported",
        Value::String(tag::CHARSET, "utf-8".into()),
    ));
    g.push(Attribute::new(
        "natural-language-configured",
        Value::String(tag::LANGUAGE, "en".into()),
    ));
    g.push(Attribute::new(
        "generated-natural-language-supported",
        Value::String(tag::LANGUAGE, "en".into()),
    ));
    g.push(Attribute::many(
        "ipp-versions-supported",
        vec![Value::keyword("1.1"), Value::keyword("2.0")],
    ));
    g.push(Attribute::new(
        "compression-supported",
        Value::keyword("none"),
    ));
    g.push(Attribute::new("queued-job-count", Value::Integer(0)));
    g
}

/// A job the printer holds: the body is in, so it is completed.
fn job_attributes(port: u16, job_id: i32) -> Group {
    let mut g = Group::new(group::JOB);
    g.push(Attribute::new("job-id", Value::Integer(job_id)));
    g.push(Attribute::new(
        "job-uri",
        Value::uri(&format!("ipp://127.0.0.1:{port}/ipp/print/{job_id}")),
    ));
    g.push(Attribute::new("job-state", Value::Enum(9)));
    g.push(Attribute::new(
        "job-state-reasons",
        Value::keyword("job-completed-successfully"),
    ));
    g
}

// ---------------------------------------------------------------------------------
// A real printer: ippeveprinter with a private D-Bus (see tests/support/printer.rs for
// why each option is there).

struct Ippeveprinter {
    dir: tempfile::TempDir,
    port: u16,
    dbus: Child,
    printer: Child,
}

impl Ippeveprinter {
    fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/ipp/print", self.port)
    }

    fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    async fn start() -> Result<Self, String> {
        let program = ["/usr/sbin/ippeveprinter", "/usr/bin/ippeveprinter"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("ippeveprinter is not installed (Debian cups-ipp-utils)")?;
        let dir = tempfile::Builder::new()
            .prefix("pp-bench-printer-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let root = dir.path().to_path_buf();
        for sub in ["ssl", "spool"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| e.to_string())?;
        }
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])
        .map_err(|e| e.to_string())?;
        std::fs::write(root.join("ssl/localhost.crt"), cert.cert.pem()).unwrap();
        std::fs::write(
            root.join("ssl/localhost.key"),
            cert.signing_key.serialize_pem(),
        )
        .unwrap();
        let command = root.join("print-command");
        std::fs::write(&command, "#!/bin/sh\nexit 0\n").unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&command, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let bus = root.join("bus");
        std::fs::write(
            root.join("dbus.conf"),
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\n\
                 <listen>unix:path={}</listen>\n<auth>EXTERNAL</auth>\n<policy context=\"default\">\n\
                 <allow user=\"*\"/><allow own=\"*\"/>\
                 <allow send_type=\"method_call\"/><allow send_type=\"signal\"/>\
                 <allow send_type=\"method_return\"/><allow send_type=\"error\"/>\
                 <allow receive_type=\"method_call\"/><allow receive_type=\"signal\"/>\
                 <allow receive_type=\"method_return\"/><allow receive_type=\"error\"/>\n\
                 </policy>\n</busconfig>\n",
                bus.display()
            ),
        )
        .unwrap();
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(root.join("log")).unwrap();
        let mut dbus = Command::new("dbus-daemon")
            .arg(format!(
                "--config-file={}",
                root.join("dbus.conf").display()
            ))
            .arg("--nofork")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log.try_clone().unwrap())
            .spawn()
            .map_err(|e| format!("dbus-daemon: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&bus).is_err() {
            if Instant::now() > deadline || dbus.try_wait().ok().flatten().is_some() {
                stop_group(&mut dbus);
                return Err("dbus-daemon did not start".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let printer = Command::new(program)
            .args(["-n", "localhost", "-r", "off", "-k"])
            .arg("-p")
            .arg(port.to_string())
            .arg("-d")
            .arg(root.join("spool"))
            .arg("-K")
            .arg(root.join("ssl"))
            .arg("-c")
            .arg(&command)
            .args(["-f", "application/pdf"])
            .arg("BenchReal")
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                format!("unix:path={}", bus.display()),
            )
            .env("HOME", &root)
            .env_remove("CUPS_SERVER")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("ippeveprinter: {e}"))?;
        let mut me = Self {
            dir,
            port,
            dbus,
            printer,
        };
        let timeouts = printpark::ipp::client::Timeouts::default();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = me.printer.try_wait() {
                let log = std::fs::read_to_string(root.join("log")).unwrap_or_default();
                return Err(format!("ippeveprinter exited ({status}): {log}"));
            }
            if printpark::ipp::client::get_printer_attributes(&me.uri(), None, &timeouts)
                .await
                .is_ok()
            {
                return Ok(me);
            }
            if Instant::now() > deadline {
                return Err("ippeveprinter does not answer".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Length and SHA-256 of every spooled document (the `.prn` outputs are not).
    fn spooled(&self) -> Vec<(u64, [u8; 32])> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.spool())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "prn") {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&path) {
                out.push((bytes.len() as u64, Sha256::digest(&bytes).into()));
            }
        }
        out
    }
}

/// Stops a process group: TERM, then KILL after 5 s.
fn stop_group(child: &mut Child) {
    use rustix::process::{Pid, Signal, kill_process_group};
    let Some(pid) = Pid::from_raw(child.id() as i32) else {
        return;
    };
    let _ = kill_process_group(pid, Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = kill_process_group(pid, Signal::KILL);
    let _ = child.wait();
}

impl Drop for Ippeveprinter {
    fn drop(&mut self) {
        stop_group(&mut self.printer);
        stop_group(&mut self.dbus);
    }
}

// ---------------------------------------------------------------------------------
// Documents

/// What was parked: the printer must receive exactly this.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Expected {
    bytes: u64,
    sha256: [u8; 32],
}

#[derive(Clone)]
enum Document {
    Small(Bytes),
    Big(u64),
}

impl Document {
    fn expected(&self) -> Expected {
        match self {
            Document::Small(bytes) => Expected {
                bytes: bytes.len() as u64,
                sha256: Sha256::digest(bytes).into(),
            },
            Document::Big(size) => {
                let mut hasher = Sha256::new();
                for piece in big_document(*size) {
                    hasher.update(&piece);
                }
                Expected {
                    bytes: *size,
                    sha256: hasher.finalize().into(),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// The server

struct Server {
    services: Services,
    base: String,
    handle: actix_web::dev::ServerHandle,
    workers: Vec<tokio::task::JoinHandle<()>>,
    admin: User,
    user: User,
    _dir: tempfile::TempDir,
    /// (the cluster's admin URL, the bench database's name), dropped at the end.
    postgres: Option<(String, String)>,
}

/// A fresh database on the cluster at `admin_url`: (its URL, its name).
async fn fresh_postgres(admin_url: &str) -> (String, String) {
    let name = format!("pp_bench_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(admin_url)
        .await
        .expect("connect to --postgres URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create bench database");
    pool.close().await;
    let mut url = url::Url::parse(admin_url).expect("--postgres is a URL");
    url.set_path(&format!("/{name}"));
    (url.to_string(), name)
}

impl Server {
    async fn start(opts: &Options) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pp-bench-release-")
            .tempdir()
            .expect("temp dir");
        let postgres = match &opts.postgres {
            Some(admin) => Some((admin.clone(), fresh_postgres(admin).await)),
            None => None,
        };
        let url = match &postgres {
            Some((_, (url, _))) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
        };
        let postgres = postgres.map(|(admin, (_, name))| (admin, name));
        let mut s = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        s.server.listen = "127.0.0.1:0".into();
        s.database.url = Some(Secret::new(&url));
        s.database.connect_timeout_secs = 10;
        s.log.level = "warn".into();
        s.queue.analyser_exe = Some(PathBuf::from(env!("CARGO_BIN_EXE_printpark")));
        s.queue.max_job_mib = s.queue.max_job_mib.max(opts.big_mib + 16);
        s.queue.max_held_per_user = s
            .queue
            .max_held_per_user
            .max(opts.sizes.iter().copied().max().unwrap_or(1) as u32 + 10);
        let services = Services::start(s).await.expect("services start");
        let listener = StdListener::bind("127.0.0.1:0").expect("bind");
        let (server, addr) = printpark::web::serve_on(services.clone(), listener).expect("serve");
        let handle = server.handle();
        tokio::spawn(server);
        let workers = services.release.spawn_workers();
        let client = ClientInfo::default();
        let admin = create_admin(&services, &client).await;
        let user = services
            .identity
            .create_user(
                None,
                &NewUserRequest {
                    username: USER.into(),
                    email: format!("{USER}@example.org"),
                    password: Some(PASSWORD.into()),
                    ..Default::default()
                },
                &client,
            )
            .await
            .expect("user");
        services
            .identity
            .set_own_pin(&user, PASSWORD, PIN, &client)
            .await
            .expect("PIN");
        Self {
            services,
            base: format!("https://{addr}"),
            handle,
            workers,
            admin,
            user,
            _dir: dir,
            postgres,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn add_printer(&self, name: &str, uri: &str) -> printpark::db::PrinterRow {
        let row = self
            .services
            .printers
            .add(
                &self.admin,
                &PrinterForm {
                    name: name.into(),
                    uri: uri.into(),
                    ..Default::default()
                },
                &ClientInfo::default(),
            )
            .await
            .expect("add printer");
        assert_eq!(row.state, "idle", "the printer is ready: {row:?}");
        row
    }

    async fn park(&self, name: &str, document: &Document) -> i64 {
        let submission = portal_pdf(name);
        let jobs = &self.services.jobs;
        let client = ClientInfo::default();
        let job = match document {
            Document::Small(bytes) => {
                jobs.park(&self.user, &submission, &mut &bytes[..], &client)
                    .await
            }
            Document::Big(size) => {
                let stream = futures_util::stream::iter(
                    big_document(*size).map(Ok::<Bytes, std::io::Error>),
                );
                let mut reader = tokio_util::io::StreamReader::new(stream);
                jobs.park(&self.user, &submission, &mut reader, &client)
                    .await
            }
        };
        job.expect("park").id
    }

    async fn stop(self) {
        for worker in &self.workers {
            worker.abort();
        }
        self.handle.stop(true).await;
        let Server {
            services, postgres, ..
        } = self;
        drop(services);
        if let Some((admin, name)) = postgres
            && let Ok(pool) = sqlx::PgPool::connect(&admin).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await;
        }
    }
}

fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// A station's browser, signed in with login + PIN, on the station page with
/// "Print all (n)"; returns it and the form's CSRF token.
async fn station_signed_in(server: &Server, guid: &str, jobs: usize) -> (reqwest::Client, String) {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .tls_danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = browser
        .get(server.url(&format!("/station/{guid}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let signed = browser
        .post(server.url(&format!("/station/{guid}/pin")))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("login", USER),
            ("pin", PIN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303, "signed in at the station");
    let page = browser
        .get(server.url(&format!("/station/{guid}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("Print all ({jobs})")),
        "the station offers the {jobs} held jobs"
    );
    (browser, csrf_of(&page))
}

// ---------------------------------------------------------------------------------
// Rounds

/// One round: N jobs released with one tap. Durations from the tap (t0), ms.
#[derive(Clone, Debug, Default)]
struct Round {
    jobs: usize,
    /// POST answered (303) at the station's browser.
    answered: f64,
    /// In PrintPark's database: when the bench first saw each release printed.
    printed_first: f64,
    printed_last: f64,
    /// At the bench printer (None for ippeveprinter).
    at_printer: Option<AtPrinter>,
    peak_rss_growth_kib: Option<u64>,
    bytes: u64,
    /// How PrintPark reached the printer (ipp, ipps).
    protocol: String,
}

#[derive(Clone, Debug, Default)]
struct AtPrinter {
    check_arrived: f64,
    check_answered: f64,
    accepted_first: f64,
    first_byte_first: f64,
    first_byte_last: f64,
    last_byte_first: f64,
    last_byte_last: f64,
    /// First Get-Job-Attributes for the first job.
    poll_first: f64,
    /// Mean time from one job's printed-poll to the next job's connection, ms.
    gap_mean: f64,
}

/// The printer a round releases to: its row, and which of the two it is.
#[derive(Clone, Copy)]
struct Target<'a> {
    row: &'a printpark::db::PrinterRow,
    bench: Option<&'a BenchPrinter>,
    real: Option<&'a Ippeveprinter>,
}

/// What a round parks and releases.
#[derive(Clone, Copy)]
struct Load<'a> {
    document: &'a Document,
    expected: Expected,
    jobs: usize,
    label: &'a str,
    measure_rss: bool,
}

async fn round(server: &Server, target: Target<'_>, load: Load<'_>) -> Result<Round, String> {
    let Target {
        row: printer,
        bench: bench_printer,
        real: real_printer,
    } = target;
    let Load {
        document,
        expected,
        jobs,
        label,
        measure_rss,
    } = load;
    // Park (not timed).
    let mut names = Vec::with_capacity(jobs);
    let mut job_ids = Vec::with_capacity(jobs);
    let tag = uuid::Uuid::new_v4().simple().to_string();
    for i in 0..jobs {
        let name = format!("{label}{jobs}-{}-{i:03}.pdf", &tag[..8]);
        job_ids.push(server.park(&name, document).await);
        names.push(name);
    }
    let (browser, csrf) = station_signed_in(server, &printer.guid, jobs).await;
    let spooled_before = real_printer.map(|p| p.spooled().len()).unwrap_or(0);
    let (checks_before, jobs_before) = bench_printer
        .map(|p| {
            let log = p.log.lock().unwrap();
            (log.checks.len(), log.jobs.len())
        })
        .unwrap_or((0, 0));
    let since = printpark::clock::now() - 5;
    let rss_before = measure_rss.then(|| {
        let before = proc_status_kib(std::process::id(), "VmRSS:").unwrap_or(0);
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        (before, reset)
    });

    // The tap.
    let url = server.url(&format!("/station/{}/print-all", printer.guid));
    let t0 = Instant::now();
    let answer = browser
        .post(url)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .map_err(|e| format!("POST print-all: {e}"))?;
    let answered = Instant::now();
    if answer.status() != 303 {
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        return Err(format!(
            "print-all answered {status}: {}",
            &body[..body.len().min(2000)]
        ));
    }

    // Follow the releases in PrintPark's database.
    let wanted: std::collections::HashSet<i64> = job_ids.iter().copied().collect();
    let mut printed_at: HashMap<i64, Instant> = HashMap::new();
    let mut protocol = String::new();
    let limit = Duration::from_secs(60 + jobs as u64 * 2 + expected.bytes / MIB);
    loop {
        let rows = server
            .services
            .db
            .releases_of_user(server.user.id, since)
            .await
            .map_err(|e| format!("releases_of_user: {e}"))?;
        let now = Instant::now();
        for row in rows.iter().filter(|r| wanted.contains(&r.job_id)) {
            match row.state.as_str() {
                "printed" => {
                    printed_at.entry(row.job_id).or_insert(now);
                    protocol.clone_from(&row.protocol);
                }
                "failed" | "needs-attention" => {
                    return Err(format!(
                        "release {} of job {} ended {}: {}",
                        row.id, row.job_id, row.state, row.reason
                    ));
                }
                _ => {}
            }
        }
        if printed_at.len() == jobs {
            break;
        }
        if t0.elapsed() > limit {
            return Err(format!(
                "{} of {jobs} releases printed after {limit:?}",
                printed_at.len()
            ));
        }
        tokio::time::sleep(DB_POLL).await;
    }
    let peak_rss_growth_kib = rss_before.and_then(|(before, reset)| {
        reset.then(|| {
            proc_status_kib(std::process::id(), "VmHWM:")
                .unwrap_or(0)
                .saturating_sub(before)
        })
    });
    let printed: Vec<Instant> = job_ids.iter().map(|id| printed_at[id]).collect();
    let mut result = Round {
        jobs,
        answered: ms(t0, answered),
        printed_first: ms(t0, printed[0]),
        printed_last: ms(t0, *printed.iter().max().unwrap()),
        at_printer: None,
        peak_rss_growth_kib,
        bytes: expected.bytes,
        protocol,
    };

    // What the printer got must be what was parked: one copy each, the same bytes.
    if let Some(p) = bench_printer {
        let log = p.log.lock().unwrap();
        if !log.errors.is_empty() {
            return Err(format!("the bench printer failed: {:?}", log.errors));
        }
        let got: Vec<&Received> = log.jobs[jobs_before..].iter().collect();
        if got.len() != jobs {
            return Err(format!("the printer got {} jobs, not {jobs}", got.len()));
        }
        let mut ordered = Vec::with_capacity(jobs);
        for name in &names {
            let mine: Vec<&&Received> = got.iter().filter(|r| &r.name == name).collect();
            if mine.len() != 1 {
                return Err(format!("{name}: received {} times", mine.len()));
            }
            let r = mine[0];
            if r.bytes != expected.bytes || r.sha256 != expected.sha256 {
                return Err(format!(
                    "{name}: received {} bytes, sha256 {}; parked {} bytes, sha256 {}",
                    r.bytes,
                    hex::encode(r.sha256),
                    expected.bytes,
                    hex::encode(expected.sha256)
                ));
            }
            ordered.push(*r);
        }
        // Delivery order is release order, i.e. park order.
        ordered.sort_by_key(|r| r.first_byte_at);
        let first = ordered[0];
        let last = ordered[jobs - 1];
        let check = log.checks[checks_before..]
            .iter()
            .find(|c| c.arrived >= t0)
            .copied()
            .ok_or("no printer check after the tap")?;
        let poll_of = |r: &Received| {
            log.polls
                .get(&r.job_id)
                .and_then(|v| v.first().copied())
                .unwrap_or(r.last_byte_at)
        };
        let gaps: Vec<f64> = ordered
            .windows(2)
            .map(|w| ms(poll_of(w[0]), w[1].accepted_at))
            .collect();
        result.at_printer = Some(AtPrinter {
            check_arrived: ms(t0, check.arrived),
            check_answered: ms(t0, check.answered),
            accepted_first: ms(t0, first.accepted_at),
            first_byte_first: ms(t0, first.first_byte_at),
            first_byte_last: ms(t0, last.first_byte_at),
            last_byte_first: ms(t0, first.last_byte_at),
            last_byte_last: ms(t0, last.last_byte_at),
            poll_first: ms(t0, poll_of(first)),
            gap_mean: if gaps.is_empty() {
                0.0
            } else {
                gaps.iter().sum::<f64>() / gaps.len() as f64
            },
        });
    }
    if let Some(p) = real_printer {
        let spooled = p.spooled();
        let new = spooled.len().saturating_sub(spooled_before);
        let matching = spooled
            .iter()
            .filter(|(n, h)| *n == expected.bytes && *h == expected.sha256)
            .count();
        if new != jobs || matching < spooled_before + jobs {
            return Err(format!(
                "ippeveprinter spooled {new} new documents for {jobs} jobs ({matching} of {} match what was parked)",
                spooled.len()
            ));
        }
    }
    Ok(result)
}

// ---------------------------------------------------------------------------------
// Figures

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    percentile(&v, 50.0)
}

struct Row {
    printer: &'static str,
    label: String,
    rounds: Vec<Round>,
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<20} {:>6} {:>6} | {:>8} {:>8} {:>8} | {:>8} {:>9} | {:>9} {:>8} {:>7}",
        "printer (protocol)",
        "jobs",
        "rounds",
        "fb1 p50",
        "fb1 p99",
        "fb1 max",
        "fb last",
        "lastbyte",
        "printed",
        "POST 303",
        "jobs/s"
    );
    for row in rows {
        let r = &row.rounds;
        if r.is_empty() {
            continue;
        }
        let at = |f: fn(&AtPrinter) -> f64| -> Vec<f64> {
            r.iter()
                .filter_map(|x| x.at_printer.as_ref().map(f))
                .collect()
        };
        let fb1 = at(|a| a.first_byte_first);
        let show = |v: f64| {
            if v.is_nan() {
                "-".to_owned()
            } else {
                format!("{v:.1}")
            }
        };
        let printed = median(r.iter().map(|x| x.printed_last));
        let jobs = r[0].jobs;
        println!(
            "{:<20} {:>6} {:>6} | {:>8} {:>8} {:>8} | {:>8} {:>9} | {:>9} {:>8} {:>7.1}",
            format!("{} ({})", row.printer, r[0].protocol),
            row.label,
            r.len(),
            show(percentile(&fb1, 50.0)),
            show(percentile(&fb1, 99.0)),
            show(percentile(&fb1, 100.0)),
            show(percentile(&at(|a| a.first_byte_last), 50.0)),
            show(percentile(&at(|a| a.last_byte_last), 50.0)),
            show(printed),
            show(median(r.iter().map(|x| x.answered))),
            jobs as f64 / (printed / 1e3),
        );
    }
    println!(
        "  ms from the tap (t0 = just before the POST); medians over the rounds, fb1 = first byte of the first job\n  \
         at the printer (p50/p99/max over rounds), fb last = first byte of the last job, lastbyte = last byte of the\n  \
         last job at the printer, printed = the last release recorded `printed` by PrintPark (seen by a 5 ms poll),\n  \
         POST 303 = the station's answer to the tap, jobs/s = jobs / printed"
    );
}

/// The steps of one round: the round with the median first byte (steps of different
/// rounds do not add up), and each step's range over all rounds.
fn print_breakdown(rounds: &[Round]) {
    let mut at: Vec<(&Round, &AtPrinter)> = rounds
        .iter()
        .filter_map(|r| r.at_printer.as_ref().map(|a| (r, a)))
        .collect();
    if at.is_empty() {
        return;
    }
    at.sort_by(|x, y| x.1.first_byte_first.total_cmp(&y.1.first_byte_first));
    type Step = fn(&Round, &AtPrinter) -> f64;
    let steps: [(&str, Step); 7] = [
        (
            "tap → printer check arrives (POST over TLS, CSRF, session, held jobs, printer row)",
            |_, a| a.check_arrived,
        ),
        ("check: Get-Printer-Attributes at the printer", |_, a| {
            a.check_answered - a.check_arrived
        }),
        (
            "check answered → Print-Job connection accepted (check recorded, releases + audit committed, worker wakes, claims, reads job)",
            |_, a| a.accepted_first - a.check_answered,
        ),
        (
            "connection accepted → first document byte (mark_transmitting commit, vault open + first chunk decrypted)",
            |_, a| a.first_byte_first - a.accepted_first,
        ),
        ("first → last document byte", |_, a| {
            a.last_byte_first - a.first_byte_first
        }),
        (
            "last byte → Get-Job-Attributes (answer read, mark_sent commit, new connection)",
            |_, a| a.poll_first - a.last_byte_first,
        ),
        (
            "Get-Job-Attributes → seen printed in the DB (finish_release commit, + up to 5 ms poll)",
            |r, a| r.printed_first - a.poll_first,
        ),
    ];
    let (mid, mid_at) = at[at.len() / 2];
    println!(
        "\nWhere the time goes, 1 job, bench printer: the median round (first byte {:.1} ms) and each step's min / median / max over {} rounds, ms:",
        mid_at.first_byte_first,
        at.len()
    );
    for (what, step) in steps {
        let all: Vec<f64> = at.iter().map(|(r, a)| step(r, a)).collect();
        println!(
            "  {:>6.1}   [{:>5.1} {:>5.1} {:>5.1}]  {what}",
            step(mid, mid_at),
            percentile(&all, 0.0),
            percentile(&all, 50.0),
            percentile(&all, 100.0)
        );
    }
    println!("  {:>6.1}   total: tap → printed", mid.printed_first);
    println!(
        "  (the station's browser had its 303 answer at {:.1} ms)",
        mid.answered
    );
    let sorted: Vec<String> = at
        .iter()
        .map(|(_, a)| format!("{:.1}", a.first_byte_first))
        .collect();
    println!("  first byte of every round, sorted: {}", sorted.join(" "));
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
    let scratch = tempfile::tempdir().expect("temp dir");
    let (page, page_source) = one_page_pdf(
        scratch.path(),
        "page 1 of tests/fixtures/documents/document-a4.pdf (Ghostscript)",
    );
    let small = Document::Small(page.clone());
    let small_expected = small.expected();
    println!(
        "PrintPark release benchmark: {}; {}, local disk; fsync (4 KiB, temp dir) p50 {:.2} ms",
        machine(),
        if opts.postgres.is_some() {
            "Postgres"
        } else {
            "SQLite"
        },
        fsync_ms(scratch.path()),
    );
    println!(
        "1-page job: {page_source}, {} bytes. Server, bench printer and bench share this process.",
        page.len()
    );

    let server = Server::start(&opts).await;
    let bench_printer = BenchPrinter::start().await;
    let row = server.add_printer("Bench", &bench_printer.uri()).await;
    let mut rows: Vec<Row> = Vec::new();

    // Warm-up: the first round pays for connection pools and lazy statics.
    let bench = Target {
        row: &row,
        bench: Some(&bench_printer),
        real: None,
    };
    let small_load = |jobs: usize, label: &'static str| Load {
        document: &small,
        expected: small_expected,
        jobs,
        label,
        measure_rss: false,
    };
    round(&server, bench, small_load(1, "warmup"))
        .await
        .unwrap_or_else(|e| panic!("warm-up round: {e}"));

    for &jobs in &opts.sizes {
        let mut rounds = Vec::new();
        for n in 0..opts.rounds_for(jobs) {
            let r = round(&server, bench, small_load(jobs, "pp"))
                .await
                .unwrap_or_else(|e| panic!("{jobs} job(s), round {n}: {e}"));
            rounds.push(r);
        }
        eprintln!("  done: {jobs} job(s) × {} rounds", rounds.len());
        rows.push(Row {
            printer: "bench IPP",
            label: jobs.to_string(),
            rounds,
        });
    }

    let mut big_rounds = Vec::new();
    if opts.big_mib > 0 {
        let big = Document::Big(opts.big_mib * MIB);
        let expected = big.expected();
        for n in 0..opts.big_rounds {
            let load = Load {
                document: &big,
                expected,
                jobs: 1,
                label: "big",
                measure_rss: true,
            };
            let r = round(&server, bench, load)
                .await
                .unwrap_or_else(|e| panic!("big job, round {n}: {e}"));
            big_rounds.push(r);
        }
        rows.push(Row {
            printer: "bench IPP",
            label: format!("{}MiB", opts.big_mib),
            rounds: big_rounds.clone(),
        });
    }

    let mut real_note = None;
    if opts.ippeveprinter {
        match Ippeveprinter::start().await {
            Ok(real) => {
                let real_row = server.add_printer("Real", &real.uri()).await;
                for &jobs in opts.sizes.iter().filter(|&&n| n <= 10) {
                    let mut rounds = Vec::new();
                    let count = opts.rounds_for(jobs).min(if jobs == 1 { 10 } else { 3 });
                    for n in 0..count {
                        let target = Target {
                            row: &real_row,
                            bench: None,
                            real: Some(&real),
                        };
                        let r = round(&server, target, small_load(jobs, "eve"))
                            .await
                            .unwrap_or_else(|e| {
                                panic!("ippeveprinter, {jobs} job(s), round {n}: {e}")
                            });
                        rounds.push(r);
                    }
                    eprintln!(
                        "  done: ippeveprinter, {jobs} job(s) × {} rounds",
                        rounds.len()
                    );
                    rows.push(Row {
                        printer: "ippeveprinter",
                        label: jobs.to_string(),
                        rounds,
                    });
                }
                drop(real);
            }
            Err(why) => real_note = Some(format!("ippeveprinter skipped: {why}")),
        }
    } else {
        real_note = Some("ippeveprinter skipped (--no-ippeveprinter)".into());
    }

    println!();
    print_table(&rows);
    if let Some(note) = real_note {
        println!("  {note}");
    } else {
        println!(
            "  ippeveprinter: only `printed` is measured (its inside is not visible); its spooled files were checked"
        );
    }
    for r in &big_rounds {
        let a = r.at_printer.as_ref().unwrap();
        let mb = r.bytes as f64 / 1e6;
        println!(
            "\nBig job: {:.0} MB; transfer (first → last byte at the printer) {:.0} ms = {:.0} MB/s; tap → printed {:.0} ms = {:.0} MB/s; \
             peak RSS growth of this process (server + printer + bench) {}",
            mb,
            a.last_byte_last - a.first_byte_first,
            mb / ((a.last_byte_last - a.first_byte_first) / 1e3),
            r.printed_last,
            mb / (r.printed_last / 1e3),
            r.peak_rss_growth_kib
                .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
                .unwrap_or_else(|| "n/a (/proc/self/clear_refs not writable)".into()),
        );
    }
    if let Some(one) = rows
        .iter()
        .find(|r| r.printer == "bench IPP" && r.label == "1")
    {
        print_breakdown(&one.rounds);
        let gaps: Vec<f64> = rows
            .iter()
            .filter(|r| r.printer == "bench IPP" && r.label != "1" && !r.label.ends_with("MiB"))
            .flat_map(|r| r.rounds.iter())
            .filter_map(|r| r.at_printer.as_ref().map(|a| a.gap_mean))
            .collect();
        if !gaps.is_empty() {
            println!(
                "  between jobs of one tap (a printer takes one job at a time): previous job's Get-Job-Attributes → next\n  \
                 Print-Job connection, median of the round means {:.1} ms (finish_release, purge, audit, claim, reads)",
                median(gaps.into_iter())
            );
        }
        let fb: Vec<f64> = one
            .rounds
            .iter()
            .filter_map(|r| r.at_printer.as_ref().map(|a| a.first_byte_first))
            .collect();
        let p50 = percentile(&fb, 50.0);
        println!(
            "\naim: first byte < 100 ms after the tap for a 1-page job on loopback: {} (p50 {:.1} ms, p99 {:.1} ms)",
            if percentile(&fb, 99.0) < 100.0 {
                "MET"
            } else if p50 < 100.0 {
                "MET at p50, NOT at p99"
            } else {
                "NOT MET"
            },
            p50,
            percentile(&fb, 99.0)
        );
    }
    server.stop().await;
}
