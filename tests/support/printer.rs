//! Printers to release jobs to: real IPP Everywhere printers (`TestPrinter`: CUPS's
//! `ippeveprinter`, Debian's `cups-ipp-utils`) and a scripted peer for what
//! `ippeveprinter` cannot do (`FakePrinter`: a stopped printer, one that is not
//! accepting jobs, one that hangs up or stalls mid-job).
//!
//! ```ignore
//! let printer = TestPrinter::start(PrinterOptions::named("Hall")).await;
//! // ... PrintPark releases a job to printer.uri() or printer.ipps_uri() ...
//! let jobs = printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
//! assert_eq!(jobs[0].state, "completed");
//! assert_eq!(printer.spooled_files()[0].bytes(), original);
//! ```
//!
//! Each `TestPrinter` owns a temp dir, a private `dbus-daemon` and an `ippeveprinter`
//! on 127.0.0.1 + ::1 and a free port: nothing is shared, so printers start in parallel
//! (tests in one binary, several binaries at once). Drop stops both process groups
//! (also when a test panics) and removes the dir. Start-up takes 25–70 ms (8 at once
//! on 2 cores: ~110 ms).
//! Needs Debian's `cups-ipp-utils` (ippeveprinter, ipptool) and `dbus-daemon`; no
//! avahi-daemon, no network namespace. Authentication (`PrinterOptions::user`) also
//! needs root (a file in /etc/pam.d, see below).
//!
//! `PrinterOptions::in_site` puts a printer in a `netns::Site` instead: its bus,
//! ippeveprinter and every ipptool call and connection of the `TestPrinter` run in the
//! site's network namespace, where 127.0.0.1 is the site's own loopback; the URIs are
//! the same and valid inside the site only (for the agent there, not the server). Drop
//! such a printer before its site.
//!
//! # How ippeveprinter is started, and the traps found on the way (CUPS 2.4.2)
//!
//! - **D-Bus, not Avahi.** Debian's ippeveprinter always connects to Avahi at start,
//!   even with `-r off`, and exits with "Error: Unable to initialize DNS-SD." when there
//!   is no D-Bus *system bus*. It creates the Avahi client with `AVAHI_CLIENT_NO_FAIL`,
//!   though, so it needs only a bus, not the avahi-daemon: without the daemon the client
//!   waits in state "connecting" (it logs "Ignored Avahi state 101.") and the printer
//!   works. `-r off` is required then: without it the registration fails an assertion
//!   ("avahi_entry_group_add_service_strlst: Assertion `group' failed", abort). With
//!   `-r off` it never registers a DNS-SD service, so nothing is announced.
//!   So each printer gets its own `dbus-daemon --nofork --config-file=<dir>/dbus.conf`
//!   (allow-all policy, `unix:path=<dir>/bus`), and ippeveprinter gets
//!   `DBUS_SYSTEM_BUS_ADDRESS=unix:path=<dir>/bus`. (dbus-daemon as root warns "Failed to
//!   set fd limit to 65536": harmless.) When that bus goes away ippeveprinter exits
//!   ("Avahi server crashed, exiting."), so the bus is stopped after the printer. This
//!   runs on the host's loopback, so the PrintPark server in the test process reaches
//!   the printer; a network namespace is not needed.
//! - **`-n localhost`**: the listeners are bound to the addresses of the `-n` name, IPv4
//!   first, then IPv6: with `-n 127.0.0.1` there is no IPv6 address and it dies ("Unable
//!   to create IPv6 listener"). With `localhost` it listens on 127.0.0.1 and ::1 only,
//!   and its URIs (printer-uri-supported, job-uri) say `localhost`. It checks only the
//!   path of a printer-uri (`/ipp/print`), so `ipp://127.0.0.1:PORT/ipp/print` works too.
//! - **`-p PORT`** must be given: the default (8000 + uid % 1000) is the same for every
//!   printer. The port is picked free; if ippeveprinter loses it (on IPv4 or ::1) to
//!   someone else before it binds, `start` tries again on another port.
//! - **`-d DIR`** must exist (it does not create it; every job then fails with "Unable
//!   to create print file"). **`-k`** keeps the spooled documents there, named
//!   `<job-id>-<job-name, lower case, other characters as _>.<ext of the format>`
//!   (`1-untitled.pdf`); the print command's standard output lands beside it as
//!   `<job-id>-<name>.prn` (empty here, and not a document: `spooled_files` skips it).
//!   The document file exists while it is being received: wait for the job to be done
//!   (`wait_for_jobs_done`) before comparing bytes.
//! - **`-c COMMAND`**: without one each job "prints" for 5–15 s. Ours is a shell script
//!   whose behaviour the test sets (`JobBehaviour`): how long a job takes, its exit code
//!   (non-zero: the job is `aborted`), and lines it writes to stderr, which ippeveprinter
//!   reads (`STATE: +media-jam` sets printer-state-reasons, `ERROR: …` the job message).
//! - **One job at a time**: Print-Job or Create-Job while a job is processing is answered
//!   `server-error-busy` ("Currently printing another job."): a releasing client must
//!   retry busy. Completed jobs drop out of Get-Jobs 60 s after they end (the spooled
//!   files stay).
//! - **Legacy vs attribute file**: `-f`, `-2`, `-s`, `-M`, `-m` are "legacy" options
//!   and cannot be combined with `-a attrs.conf` or `-P ppd` (usage error). Colour is
//!   `-s 10,10` (a colour speed > 0: color-supported, print-color-mode auto/color/
//!   monochrome); duplex is `-2` (sides one-sided, two-sided-long-edge, -short-edge).
//!   `document-format-supported` is `application/octet-stream` plus the `-f` list.
//! - **TLS**: one port speaks IPP and IPPS (it peeks at the first byte), so `ipps://`
//!   always works. The server certificate is `<-K dir>/localhost.crt` + `.key` (named
//!   after the `-n` name). Without `-K`, root's key path is /etc/cups/ssl, where it
//!   *creates* a self-signed certificate on the first TLS connection: always pass `-K`.
//!   We put an rcgen certificate there first (SANs localhost, 127.0.0.1, ::1), so tests
//!   know it and can pin it (`cert_pem`). ipptool does not check certificates.
//! - **Authentication**: `-A` means PAM service `cups`, i.e. system passwords;
//!   `--pam-service NAME` another service. HTTP Basic is then required for every IPP
//!   operation except Get-Printer-Attributes, and for the web pages, over IPP and IPPS
//!   alike (a missing or wrong password: HTTP 401, which ipptool shows as
//!   client-error-not-authenticated after retrying a few times). PAM's `pam_start` keeps
//!   only the base name of a service name, so the service must be a file in /etc/pam.d:
//!   we write `/etc/pam.d/printpark-test-<uuid>` (root only) with `pam_exec
//!   expose_authtok` of a script in the temp dir that checks the test's users, and
//!   remove it on drop.
//! - job-originating-user-name is the requesting-user-name the client sent, not the
//!   authenticated user.
//! - **States**: ippeveprinter's printer-state is only ever `idle` or `processing`; it
//!   has no Pause-Printer, is always accepting jobs, and its state reasons end in
//!   `-report` (idle) or `-warning` (processing), never `-error`. What it can show:
//!   - `media-empty` (`empty_media`/`refill_media`, its test-only web form GET /media):
//!     a job then stays `processing` with `media-needed` until the media is refilled,
//!     like a real printer out of paper. Trap: the form must name a size for every
//!     tray; once a request leaves all trays without a size, media-col-ready becomes
//!     no-value and the page answers "No media-col-ready defined" for good.
//!   - `toner-empty` / `marker-waste-full` (`empty_toner`/`refill_toner`, GET /supplies).
//!   - any other reason (media-jam, cover-open, paused …) from the print command's
//!     `STATE:` lines while a job runs (`JobBehaviour::stderr`); they stay after it.
//!   - hung: `freeze` (SIGSTOP): the kernel still accepts connections, nothing answers.
//!   - offline: `go_offline` (killed: connection refused), `come_back_online`.
//!
//!   For `stopped`, not accepting jobs, `-error` reasons, or a hang-up mid-job, use
//!   `FakePrinter`; for a port where nothing listens, `unreachable_uri`.
//! - `FakePrinter::start_tls` sends no TLS 1.3 session tickets (as src/tls.rs):
//!   CUPS's GnuTLS clients (ipptool, the ipps backend) take the post-handshake ticket
//!   record for the end of the response, see 0 bytes and reconnect in a loop.
//! - ipptool against a peer that closes connections reconnects and resends in a tight
//!   loop (tens of thousands of connections in seconds) instead of failing: check
//!   hang-ups with a client of your own (or PrintPark's), not ipptool.
//! - Processes are stopped by Drop only: if the test binary itself is killed (SIGKILL)
//!   they stay (no PR_SET_PDEATHSIG: it fires when the *thread* that started the child
//!   ends, and tests start printers from any thread).

#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

use super::netns::{self, Site};

/// How long `start` waits for the bus and the printer.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Time-out of one ipptool call (its own `-T`, and a hard limit around it).
const IPPTOOL_TIMEOUT: Duration = Duration::from_secs(20);

/// What the printer says it is and does.
#[derive(Clone, Debug)]
pub struct PrinterOptions {
    /// The printer's name (printer-name, printer-info).
    pub name: String,
    /// MIME types it accepts besides application/octet-stream (`-f`).
    pub formats: Vec<String>,
    /// Colour (`-s 10,10`): color-supported, print-color-mode color/monochrome.
    pub color: bool,
    /// Two-sided printing (`-2`).
    pub duplex: bool,
    /// printer-make-and-model is "<make> <model>" (`-M`, `-m`).
    pub make: String,
    pub model: String,
    /// printer-location (`-l`).
    pub location: String,
    /// Users and passwords it accepts by HTTP Basic; empty: no authentication.
    /// Needs root (a PAM service file in /etc/pam.d). Characters: A–Z a–z 0–9 . _ -
    pub users: Vec<(String, String)>,
    /// An ippserver attributes file (`-a`) instead of formats/colour/duplex/make/model
    /// (ippeveprinter refuses both together).
    pub attributes_file: Option<PathBuf>,
    /// What each job does at the printer (can be changed later: `set_job_behaviour`).
    pub job: JobBehaviour,
    /// The network namespace (`Site::netns_path`) it runs in; None: the host's.
    pub netns: Option<PathBuf>,
}

impl Default for PrinterOptions {
    fn default() -> Self {
        Self {
            name: "PrintPark Test Printer".into(),
            formats: [
                "application/pdf",
                "image/pwg-raster",
                "image/urf",
                "image/jpeg",
            ]
            .map(String::from)
            .to_vec(),
            color: false,
            duplex: false,
            make: "PrintPark".into(),
            model: "Test Printer".into(),
            location: String::new(),
            users: Vec::new(),
            attributes_file: None,
            job: JobBehaviour::default(),
            netns: None,
        }
    }
}

impl PrinterOptions {
    pub fn named(name: &str) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    pub fn formats(mut self, formats: &[&str]) -> Self {
        self.formats = formats.iter().map(|f| f.to_string()).collect();
        self
    }

    pub fn color(mut self) -> Self {
        self.color = true;
        self
    }

    pub fn duplex(mut self) -> Self {
        self.duplex = true;
        self
    }

    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.into(), password.into()));
        self
    }

    pub fn job(mut self, job: JobBehaviour) -> Self {
        self.job = job;
        self
    }

    /// In `site`, on its loopback: unreachable from the host (see the module doc).
    pub fn in_site(mut self, site: &Site) -> Self {
        self.netns = Some(site.netns_path());
        self
    }

    /// `program`, in the printer's network namespace.
    fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match &self.netns {
            Some(netns) => netns::command_in(netns, program),
            None => Command::new(program),
        }
    }
}

/// What the printer's print command does with each job.
#[derive(Clone, Debug, Default)]
pub struct JobBehaviour {
    /// How long printing takes (the job is `processing`, the printer busy meanwhile).
    pub duration: Duration,
    /// The command's exit code: 0 completes the job, anything else aborts it.
    pub exit_code: u8,
    /// Lines written to ippeveprinter at the start of the job, e.g.
    /// "STATE: +media-jam\n" (printer-state-reasons, kept after the job),
    /// "ERROR: Paper jam\n" (job-state-message).
    pub stderr: String,
}

impl JobBehaviour {
    /// Jobs take `duration` and complete.
    pub fn slow(duration: Duration) -> Self {
        Self {
            duration,
            ..Self::default()
        }
    }

    /// Jobs end `aborted`, with this message.
    pub fn failing(message: &str) -> Self {
        Self {
            exit_code: 1,
            stderr: format!("ERROR: {message}\n"),
            ..Self::default()
        }
    }
}

/// A job as Get-Jobs reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterJob {
    pub id: u32,
    /// pending, pending-held, processing, processing-stopped, canceled, aborted, completed
    pub state: String,
    pub reasons: Vec<String>,
    pub name: String,
    pub user: String,
}

impl PrinterJob {
    pub fn is_done(&self) -> bool {
        matches!(self.state.as_str(), "completed" | "aborted" | "canceled")
    }
}

/// The printer's state as Get-Printer-Attributes reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterStatus {
    /// idle, processing or stopped
    pub state: String,
    /// e.g. ["none"], ["media-empty-report"]
    pub reasons: Vec<String>,
    pub message: String,
    pub accepting_jobs: bool,
}

impl PrinterStatus {
    /// Whether a reason with this keyword is set, whatever its -report/-warning/-error.
    pub fn has_reason(&self, keyword: &str) -> bool {
        self.reasons.iter().any(|r| {
            r == keyword
                || r.strip_prefix(keyword)
                    .is_some_and(|s| matches!(s, "-report" | "-warning" | "-error"))
        })
    }
}

/// A document the printer received and kept (`-k`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpooledFile {
    /// Counts `come_back_online` restarts (job ids start at 1 again after each).
    pub generation: u32,
    pub job_id: u32,
    pub path: PathBuf,
}

impl SpooledFile {
    pub fn bytes(&self) -> Vec<u8> {
        fs::read(&self.path).unwrap_or_else(|e| panic!("{}: {e}", self.path.display()))
    }
}

/// A real IPP Everywhere printer (ippeveprinter) on loopback; see the module doc.
pub struct TestPrinter {
    dir: tempfile::TempDir,
    port: u16,
    options: PrinterOptions,
    dbus: Child,
    printer: Option<Child>,
    generation: u32,
    pam_service: Option<PathBuf>,
    frozen: bool,
}

fn uri_safe(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Writes a file through a temporary name, so readers never see half of it.
fn write_atomic(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, contents).unwrap();
    fs::rename(&tmp, path).unwrap();
}

/// Stops a process group: TERM (and CONT, for a frozen one), then KILL after 5 s.
fn stop_group(child: &mut Child) {
    let Some(pid) = Pid::from_raw(child.id() as i32) else {
        return;
    };
    let _ = kill_process_group(pid, Signal::TERM);
    let _ = kill_process_group(pid, Signal::CONT);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Also whatever the group still holds (a print command of a job, say).
    let _ = kill_process_group(pid, Signal::KILL);
    let _ = child.wait();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port free on 127.0.0.1 of the namespace the printer runs in: a port free on the
/// host says nothing about a site's loopback.
fn free_port_in(netns: Option<&Path>) -> u16 {
    match netns {
        Some(netns) => netns::within(netns, free_port),
        None => free_port(),
    }
}

/// `ipp://127.0.0.1:PORT/ipp/print` on a port where nothing listens (an offline
/// printer: connection refused).
pub fn unreachable_uri() -> String {
    format!("ipp://127.0.0.1:{}/ipp/print", free_port())
}

/// Splits one line of ipptool's CSV output (`-c`): commas; values with a comma, quote or
/// backslash are quoted, with `\` before `"` and `\`.
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    field.push(next);
                }
            }
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// ipptool's own escaping of commas inside one value (`ippAttributeString`): `\,`.
fn set_of(value: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' => values.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    values.push(current);
    values.retain(|v| !v.is_empty());
    values
}

const JOBS_TEST: &str = r#"{
	NAME "Get-Jobs (all)"
	OPERATION Get-Jobs
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR language attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR name requesting-user-name $user
	ATTR keyword which-jobs all
	ATTR keyword requested-attributes job-id,job-state,job-state-reasons,job-name,job-originating-user-name
	STATUS successful-ok
	DISPLAY job-id
	DISPLAY job-state
	DISPLAY job-state-reasons
	DISPLAY job-name
	DISPLAY job-originating-user-name
}
"#;

const TEMPLATES_TEST: &str = r#"{
	NAME "Get-Jobs (job template)"
	OPERATION Get-Jobs
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR language attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR name requesting-user-name $user
	ATTR keyword which-jobs all
	ATTR keyword requested-attributes job-id,copies,sides,print-color-mode
	STATUS successful-ok
	DISPLAY job-id
	DISPLAY copies
	DISPLAY sides
	DISPLAY print-color-mode
}
"#;

const STATUS_TEST: &str = r#"{
	NAME "Get-Printer-Attributes (state)"
	OPERATION Get-Printer-Attributes
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR language attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR keyword requested-attributes printer-state,printer-state-reasons,printer-state-message,printer-is-accepting-jobs
	STATUS successful-ok
	DISPLAY printer-state
	DISPLAY printer-state-reasons
	DISPLAY printer-state-message
	DISPLAY printer-is-accepting-jobs
}
"#;

const PRINT_TEST: &str = r#"{
	NAME "Print-Job"
	OPERATION Print-Job
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR language attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR name requesting-user-name $requesting_user
	ATTR name job-name $job_name
	ATTR mimeMediaType document-format $filetype
	FILE $filename
	STATUS successful-ok
	STATUS successful-ok-ignored-or-substituted-attributes
	EXPECT job-id
}
"#;

/// Runs ipptool (with a hard time-out, killed if it hangs), returns its output.
pub async fn ipptool(args: &[&str], home: &Path) -> Output {
    ipptool_in(None, args, home).await
}

/// `ipptool`, in the network namespace at `netns` (None: the host's).
pub async fn ipptool_in(netns: Option<&Path>, args: &[&str], home: &Path) -> Output {
    let mut command = tokio::process::Command::from(match netns {
        Some(netns) => netns::command_in(netns, "ipptool"),
        None => Command::new("ipptool"),
    });
    command
        .args(["-T", &IPPTOOL_TIMEOUT.as_secs().to_string()])
        .args(args)
        // Not the developer's ~/.cups/client.conf.
        .env("HOME", home)
        .env_remove("CUPS_SERVER")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let shown = format!("ipptool {}", args.join(" "));
    match tokio::time::timeout(IPPTOOL_TIMEOUT + Duration::from_secs(5), command.output()).await {
        Ok(output) => output.unwrap_or_else(|e| {
            panic!("{shown}: {e} (tests/run.sh installs Debian's cups-ipp-utils)")
        }),
        Err(_) => panic!("{shown} hung past {IPPTOOL_TIMEOUT:?}"),
    }
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

impl TestPrinter {
    /// Starts the printer and waits until it answers Get-Printer-Attributes.
    pub async fn start(options: PrinterOptions) -> Self {
        for (user, password) in &options.users {
            assert!(
                uri_safe(user) && uri_safe(password),
                "test printer users and passwords: A-Z a-z 0-9 . _ - only ({user:?})"
            );
        }
        assert!(
            options.attributes_file.is_none()
                || (!options.color && !options.duplex && options.formats.is_empty()),
            "ippeveprinter takes an attributes file (-a) or formats/colour/duplex, not both: \
             clear `formats` when you set `attributes_file`"
        );
        let dir = tempfile::Builder::new()
            .prefix("printpark-printer-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        assert!(
            root.join("bus").as_os_str().len() < 100,
            "unix socket path too long: {}",
            root.display()
        );
        for sub in ["ssl", "control", "ipptool"] {
            fs::create_dir_all(root.join(sub)).unwrap();
        }

        // The server certificate ippeveprinter uses for IPPS (see the module doc).
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])
        .expect("certificate");
        fs::write(root.join("ssl/localhost.crt"), certified.cert.pem()).unwrap();
        fs::write(
            root.join("ssl/localhost.key"),
            certified.signing_key.serialize_pem(),
        )
        .unwrap();

        // The print command and its behaviour files.
        let control = root.join("control");
        let command = root.join("print-command");
        fs::write(
            &command,
            format!(
                "#!/bin/sh\n\
                 # ippeveprinter's print command: $1 is the spooled document.\n\
                 PATH=/usr/bin:/bin\n\
                 control='{}'\n\
                 [ -s \"$control/stderr\" ] && cat \"$control/stderr\" >&2\n\
                 [ -s \"$control/seconds\" ] && sleep \"$(cat \"$control/seconds\")\"\n\
                 exit \"$(cat \"$control/exit\" 2>/dev/null || echo 0)\"\n",
                control.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&command, fs::Permissions::from_mode(0o755)).unwrap();

        for (name, contents) in [
            ("jobs.test", JOBS_TEST),
            ("templates.test", TEMPLATES_TEST),
            ("status.test", STATUS_TEST),
            ("print.test", PRINT_TEST),
        ] {
            fs::write(root.join("ipptool").join(name), contents).unwrap();
        }

        // Authentication: a PAM service of our own (see the module doc).
        let pam_service = if options.users.is_empty() {
            None
        } else {
            assert!(
                super::running_as_root(),
                "a test printer with users needs root: its PAM service is a file in /etc/pam.d"
            );
            let users = root.join("users");
            let mut list = String::new();
            for (user, password) in &options.users {
                list.push_str(&format!("{user}:{password}\n"));
            }
            fs::write(&users, list).unwrap();
            let check = root.join("check-password");
            fs::write(
                &check,
                format!(
                    "#!/bin/sh\n\
                     # pam_exec expose_authtok: the password on stdin, NUL-terminated.\n\
                     PATH=/usr/bin:/bin\n\
                     password=$(tr -d '\\000')\n\
                     grep -qxF -e \"$PAM_USER:$password\" '{}'\n",
                    users.display()
                ),
            )
            .unwrap();
            fs::set_permissions(&check, fs::Permissions::from_mode(0o755)).unwrap();
            let service = format!("printpark-test-{}", uuid::Uuid::new_v4().simple());
            let path = PathBuf::from("/etc/pam.d").join(&service);
            fs::write(
                &path,
                format!(
                    "# A PrintPark test printer's users (tests/support/printer.rs); removed when it stops.\n\
                     auth required pam_exec.so expose_authtok quiet {}\n\
                     account required pam_permit.so\n",
                    check.display()
                ),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            Some(path)
        };

        // The private system bus.
        let bus = root.join("bus");
        fs::write(
            root.join("dbus.conf"),
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig>\n\
                 \x20 <listen>unix:path={}</listen>\n\
                 \x20 <auth>EXTERNAL</auth>\n\
                 \x20 <policy context=\"default\">\n\
                 \x20   <allow user=\"*\"/>\n\
                 \x20   <allow own=\"*\"/>\n\
                 \x20   <allow send_type=\"method_call\"/>\n\
                 \x20   <allow send_type=\"signal\"/>\n\
                 \x20   <allow send_type=\"method_return\"/>\n\
                 \x20   <allow send_type=\"error\"/>\n\
                 \x20   <allow receive_type=\"method_call\"/>\n\
                 \x20   <allow receive_type=\"signal\"/>\n\
                 \x20   <allow receive_type=\"method_return\"/>\n\
                 \x20   <allow receive_type=\"error\"/>\n\
                 \x20 </policy>\n\
                 </busconfig>\n",
                bus.display()
            ),
        )
        .unwrap();
        let dbus_log = fs::File::create(root.join("dbus.log")).unwrap();
        let dbus = options
            .command("dbus-daemon")
            .arg(format!(
                "--config-file={}",
                root.join("dbus.conf").display()
            ))
            .arg("--nofork")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(dbus_log.try_clone().unwrap())
            .stderr(dbus_log)
            .spawn()
            .expect("dbus-daemon is installed (Debian's dbus-daemon)");

        let mut printer = Self {
            dir,
            port: 0,
            options,
            dbus,
            printer: None,
            generation: 0,
            pam_service,
            frozen: false,
        };
        let job = printer.options.job.clone();
        printer.set_job_behaviour(&job);

        let deadline = Instant::now() + START_TIMEOUT;
        while std::os::unix::net::UnixStream::connect(&bus).is_err() {
            if let Ok(Some(status)) = printer.dbus.try_wait() {
                panic!(
                    "dbus-daemon exited ({status}) at start:\n{}",
                    printer.diagnostics()
                );
            }
            assert!(
                Instant::now() < deadline,
                "dbus-daemon did not listen in {START_TIMEOUT:?}\n{}",
                printer.diagnostics()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        // A free port; another process may take it before ippeveprinter binds it.
        for attempt in 1..=5 {
            printer.port = free_port_in(printer.options.netns.as_deref());
            match printer.launch().await {
                Ok(()) => return printer,
                Err(why) if attempt < 5 && why.contains("listener") => continue,
                Err(why) => panic!(
                    "ippeveprinter did not start: {why}\n{}",
                    printer.diagnostics()
                ),
            }
        }
        unreachable!()
    }

    /// Starts ippeveprinter on `self.port` with a fresh spool dir and waits until it
    /// answers; Err(its log) when it exits first.
    async fn launch(&mut self) -> Result<(), String> {
        let root = self.dir.path().to_path_buf();
        let spool = self.spool_dir(self.generation);
        fs::create_dir_all(&spool).unwrap();
        let options = &self.options;
        let mut command = options.command(super::sbin("ippeveprinter"));
        command
            .args(["-v", "-n", "localhost", "-r", "off", "-k"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(&spool)
            .arg("-K")
            .arg(root.join("ssl"))
            .arg("-c")
            .arg(root.join("print-command"));
        if !options.location.is_empty() {
            command.args(["-l", &options.location]);
        }
        if let Some(file) = &options.attributes_file {
            command.arg("-a").arg(file);
        } else {
            command.args(["-M", &options.make, "-m", &options.model]);
            if !options.formats.is_empty() {
                command.args(["-f", &options.formats.join(",")]);
            }
            if options.color {
                command.args(["-s", "10,10"]);
            }
            if options.duplex {
                command.arg("-2");
            }
        }
        if let Some(service) = &self.pam_service {
            command
                .arg("--pam-service")
                .arg(service.file_name().unwrap());
        }
        command.arg(&options.name);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("ippeveprinter.log"))
            .unwrap();
        writeln!(&log, "=== {command:?}").unwrap();
        let child = command
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                format!("unix:path={}", root.join("bus").display()),
            )
            .env("HOME", &root)
            .env_remove("CUPS_SERVER")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("ippeveprinter is installed (Debian's cups-ipp-utils)");
        self.printer = Some(child);

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let child = self.printer.as_mut().unwrap();
            if let Ok(Some(status)) = child.try_wait() {
                self.printer = None;
                return Err(format!("exited ({status}): {}", self.log()));
            }
            if self.connect().is_ok() && self.try_status().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not answering after {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A connection to the printer from where it runs (the host or its site).
    fn connect(&self) -> std::io::Result<TcpStream> {
        let address = self.address();
        match &self.options.netns {
            Some(netns) => netns::within(netns, move || TcpStream::connect(address)),
            None => TcpStream::connect(address),
        }
    }

    fn spool_dir(&self, generation: u32) -> PathBuf {
        self.dir.path().join(format!("spool-{generation}"))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// 127.0.0.1:port (it listens on ::1 too).
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `ipp://localhost:PORT/ipp/print`
    pub fn uri(&self) -> String {
        format!("ipp://localhost:{}/ipp/print", self.port)
    }

    /// `ipps://localhost:PORT/ipp/print` (same port; certificate: `cert_pem`).
    pub fn ipps_uri(&self) -> String {
        format!("ipps://localhost:{}/ipp/print", self.port)
    }

    /// The URI with credentials in it, as ipptool takes them.
    pub fn uri_as(&self, user: &str, password: &str, tls: bool) -> String {
        let scheme = if tls { "ipps" } else { "ipp" };
        format!(
            "{scheme}://{user}:{password}@localhost:{}/ipp/print",
            self.port
        )
    }

    /// The URI ipptool helpers use: with the first user's credentials, if any.
    fn own_uri(&self) -> String {
        match self.options.users.first() {
            Some((user, password)) => self.uri_as(user, password, false),
            None => self.uri(),
        }
    }

    pub fn name(&self) -> &str {
        &self.options.name
    }

    /// The PEM certificate it presents over IPPS.
    pub fn cert_pem(&self) -> String {
        fs::read_to_string(self.cert_path()).unwrap()
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("ssl/localhost.crt")
    }

    /// The documents it received, in order (restarts, then job ids); not the print
    /// command's `.prn` output.
    pub fn spooled_files(&self) -> Vec<SpooledFile> {
        let mut files = Vec::new();
        for generation in 0..=self.generation {
            let Ok(entries) = fs::read_dir(self.spool_dir(generation)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "prn") {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(job_id) = name.split('-').next().and_then(|n| n.parse().ok()) else {
                    continue;
                };
                files.push(SpooledFile {
                    generation,
                    job_id,
                    path,
                });
            }
        }
        files.sort_by_key(|f| (f.generation, f.job_id));
        files
    }

    /// The document of job `job_id` (of the current run).
    pub fn spooled_file(&self, job_id: u32) -> Option<SpooledFile> {
        self.spooled_files()
            .into_iter()
            .find(|f| f.generation == self.generation && f.job_id == job_id)
    }

    /// Every job it knows (Get-Jobs which-jobs=all; done jobs stay 60 s).
    pub async fn jobs(&self) -> Vec<PrinterJob> {
        let output = self
            .run_ipptool(&["-c", &self.own_uri(), "jobs.test"])
            .await;
        assert!(
            output.status.success(),
            "Get-Jobs failed: {}\n{}",
            text(&output),
            self.diagnostics()
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let f = csv_fields(line);
                let field = |i: usize| f.get(i).cloned().unwrap_or_default();
                PrinterJob {
                    id: field(0)
                        .parse()
                        .unwrap_or_else(|_| panic!("job-id in {line:?}")),
                    state: field(1),
                    reasons: set_of(&field(2)),
                    name: field(3),
                    user: field(4),
                }
            })
            .collect()
    }

    /// Each job's `(copies, sides, print-color-mode)` as the printer recorded them
    /// (empty when the client did not send one), by job id.
    pub async fn job_templates(&self) -> Vec<(u32, String, String, String)> {
        let output = self
            .run_ipptool(&["-c", &self.own_uri(), "templates.test"])
            .await;
        assert!(
            output.status.success(),
            "Get-Jobs failed: {}",
            text(&output)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let f = csv_fields(line);
                let field = |i: usize| f.get(i).cloned().unwrap_or_default();
                (field(0).parse().unwrap_or(0), field(1), field(2), field(3))
            })
            .collect()
    }

    /// Waits until at least `count` jobs are completed, aborted or canceled; returns
    /// all jobs.
    pub async fn wait_for_jobs_done(&self, count: usize, timeout: Duration) -> Vec<PrinterJob> {
        let deadline = Instant::now() + timeout;
        loop {
            let jobs = self.jobs().await;
            if jobs.iter().filter(|j| j.is_done()).count() >= count {
                return jobs;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} jobs done at {} after {timeout:?}: {jobs:?}\n{}",
                jobs.iter().filter(|j| j.is_done()).count(),
                self.options.name,
                self.diagnostics()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// printer-state, -reasons, -message, printer-is-accepting-jobs.
    pub async fn status(&self) -> PrinterStatus {
        self.try_status().await.unwrap_or_else(|e| {
            panic!("Get-Printer-Attributes failed: {e}\n{}", self.diagnostics())
        })
    }

    async fn try_status(&self) -> Result<PrinterStatus, String> {
        let output = self.run_ipptool(&["-c", &self.uri(), "status.test"]).await;
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        let row = out.lines().nth(1).filter(|_| output.status.success());
        let Some(row) = row else {
            return Err(text(&output));
        };
        let f = csv_fields(row);
        let field = |i: usize| f.get(i).cloned().unwrap_or_default();
        Ok(PrinterStatus {
            state: field(0),
            reasons: set_of(&field(1)),
            message: field(2),
            accepting_jobs: field(3) == "true",
        })
    }

    /// Waits until the status satisfies `check`; returns it.
    pub async fn wait_for_status(
        &self,
        timeout: Duration,
        check: impl Fn(&PrinterStatus) -> bool,
    ) -> PrinterStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status().await;
            if check(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still {status:?} after {timeout:?}\n{}",
                self.options.name,
                self.diagnostics()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Prints `file` with ipptool's Print-Job to `uri` (one of this printer's URIs,
    /// with credentials if it wants them); the job id, or ipptool's report.
    pub async fn print_with_ipptool(
        &self,
        uri: &str,
        file: &Path,
        format: &str,
        job_name: &str,
    ) -> Result<u32, String> {
        let file = file.display().to_string();
        // requesting-user-name: the URI's user (ippeveprinter takes it as
        // job-originating-user-name), else "ipptool". (ipptool's `$user` is always the
        // local user; `$uriuser` would be empty without one.)
        let user = uri
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .map(|(userinfo, _)| userinfo.split(':').next().unwrap_or_default().to_owned())
            .unwrap_or_else(|| "ipptool".to_owned());
        let mut args = vec![
            "-tv".to_owned(),
            "-f".to_owned(),
            file,
            "-d".to_owned(),
            format!("filetype={format}"),
            "-d".to_owned(),
            format!("job_name={job_name}"),
        ];
        args.extend(["-d".to_owned(), format!("requesting_user={user}")]);
        args.extend([uri.to_owned(), "print.test".to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.run_ipptool(&args).await;
        let report = text(&output);
        if !output.status.success() {
            return Err(report);
        }
        report
            .lines()
            .find_map(|l| l.trim().strip_prefix("job-id (integer) = "))
            .and_then(|id| id.trim().parse().ok())
            .ok_or(report)
    }

    /// ipptool with this printer's private HOME; test files are looked up in the
    /// printer's ipptool dir first (jobs.test, status.test, print.test), then in
    /// /usr/share/cups/ipptool.
    pub async fn run_ipptool(&self, args: &[&str]) -> Output {
        let dir = self.dir.path().join("ipptool");
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if a.ends_with(".test") && dir.join(a).exists() {
                    dir.join(a).display().to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ipptool_in(self.options.netns.as_deref(), &args, self.dir.path()).await
    }

    /// What each following job does (takes effect for jobs that start later).
    pub fn set_job_behaviour(&self, job: &JobBehaviour) {
        let control = self.dir.path().join("control");
        write_atomic(&control.join("stderr"), &job.stderr);
        write_atomic(
            &control.join("seconds"),
            &format!("{:.3}", job.duration.as_secs_f64()),
        );
        write_atomic(&control.join("exit"), &job.exit_code.to_string());
    }

    /// GET on ippeveprinter's test-only web forms (with the first user's credentials).
    async fn web_form(&self, path_and_query: &str) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut request = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n",
            self.port
        );
        if let Some((user, password)) = self.options.users.first() {
            use base64::Engine;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        let exchange = async {
            let stream = self.connect()?;
            stream.set_nonblocking(true)?;
            let mut stream = tokio::net::TcpStream::from_std(stream)?;
            stream.write_all(request.as_bytes()).await?;
            // It keeps the connection open (even for HTTP/1.0 or "Connection: close"):
            // read up to the end of the (chunked) body.
            let mut answer = Vec::new();
            let mut chunk = [0u8; 16 * 1024];
            loop {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&chunk[..n]);
                let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if head.contains("transfer-encoding: chunked") {
                    if answer.ends_with(b"\r\n0\r\n\r\n") {
                        break;
                    }
                } else if answer.len() >= end + 4 + length.unwrap_or(0) {
                    break;
                }
            }
            Ok::<_, std::io::Error>(answer)
        };
        let answer = tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .unwrap_or_else(|_| panic!("GET {path_and_query}: no answer in 10 s"))
            .unwrap_or_else(|e| panic!("GET {path_and_query}: {e}"));
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 200") && !answer.contains("<p>Error:"),
            "GET {path_and_query}:\n{answer}"
        );
    }

    /// Letter paper in every tray with this many sheets (0: media-empty).
    async fn set_media_level(&self, sheets: u32) {
        // A size for every tray index, or the form breaks for good (module doc).
        let query: Vec<String> = (0..8)
            .map(|i| format!("size{i}=na_letter_8.5x11in&type{i}=stationery&level{i}={sheets}"))
            .collect();
        self.web_form(&format!("/media?{}", query.join("&"))).await;
    }

    /// Out of paper: printer-state-reasons media-empty; jobs wait in `processing`
    /// (media-needed) until `refill_media`.
    pub async fn empty_media(&self) {
        self.set_media_level(0).await;
    }

    /// Paper in every tray again; a waiting job goes on within a second.
    pub async fn refill_media(&self) {
        self.set_media_level(250).await;
    }

    /// Toner at 0 %: printer-state-reasons toner-empty.
    pub async fn empty_toner(&self) {
        self.web_form("/supplies?supply0=25&supply1=0&supply2=0&supply3=0&supply4=0")
            .await;
    }

    /// Toner at 100 %, waste bin at 25 %: no supply reasons.
    pub async fn refill_toner(&self) {
        self.web_form("/supplies?supply0=25&supply1=100&supply2=100&supply3=100&supply4=100")
            .await;
    }

    /// A hung printer: SIGSTOP. Connections are still accepted (by the kernel), nothing
    /// answers (so `status`/`jobs` would fail after ipptool's 20 s). `thaw` ends it.
    pub fn freeze(&mut self) {
        if let Some(child) = &self.printer {
            let pid = Pid::from_raw(child.id() as i32).unwrap();
            kill_process_group(pid, Signal::STOP).unwrap();
            self.frozen = true;
        }
    }

    pub fn thaw(&mut self) {
        if let Some(child) = &self.printer {
            let pid = Pid::from_raw(child.id() as i32).unwrap();
            kill_process_group(pid, Signal::CONT).unwrap();
            self.frozen = false;
        }
    }

    /// Offline: ippeveprinter is stopped; connections are refused.
    pub fn go_offline(&mut self) {
        if let Some(mut child) = self.printer.take() {
            stop_group(&mut child);
        }
        self.frozen = false;
    }

    /// Starts it again on the same port (new job ids from 1: the spooled files of the
    /// new run have the next `generation`). Jobs and state reasons are not kept.
    pub async fn come_back_online(&mut self) {
        assert!(self.printer.is_none(), "the printer is online");
        self.generation += 1;
        if let Err(why) = self.launch().await {
            panic!(
                "ippeveprinter did not start again on port {}: {why}\n{}",
                self.port,
                self.diagnostics()
            );
        }
    }

    /// ippeveprinter's log (`-v`: connections, jobs, the print command).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("ippeveprinter.log")).unwrap_or_default()
    }

    /// Its logs, for failure messages.
    pub fn diagnostics(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "--- {} ({}) ippeveprinter log (last 80 lines) ---\n{}\n--- dbus-daemon ---\n{}",
            self.options.name,
            self.uri(),
            lines[lines.len().saturating_sub(80)..].join("\n"),
            fs::read_to_string(self.dir.path().join("dbus.log")).unwrap_or_default()
        )
    }
}

impl Drop for TestPrinter {
    fn drop(&mut self) {
        if let Some(mut child) = self.printer.take() {
            stop_group(&mut child);
        }
        stop_group(&mut self.dbus);
        if let Some(service) = &self.pam_service {
            let _ = fs::remove_file(service);
        }
    }
}

// --- FakePrinter --------------------------------------------------------------------

/// printer-state values.
pub const IDLE: u32 = 3;
pub const PROCESSING: u32 = 4;
pub const STOPPED: u32 = 5;

/// What a `FakePrinter` answers Get-Printer-Attributes with.
#[derive(Clone, Debug)]
pub struct FakeStatus {
    /// `IDLE`, `PROCESSING` or `STOPPED`.
    pub state: u32,
    /// printer-state-reasons keywords, e.g. "media-jam-error".
    pub reasons: Vec<String>,
    pub message: String,
    pub accepting_jobs: bool,
    /// The IPP status of every other operation (Print-Job, Create-Job, Validate-Job …).
    /// Default 0x0506 server-error-not-accepting-jobs.
    pub job_status: u16,
}

impl FakeStatus {
    /// Idle and accepting jobs; every job operation answered `job_status` (default
    /// successful-ok).
    pub fn idle() -> Self {
        Self {
            state: IDLE,
            reasons: Vec::new(),
            message: "Ready.".into(),
            accepting_jobs: true,
            job_status: 0x0000,
        }
    }

    /// Stopped with these reasons (give the suffix: "media-jam-error"); not accepting.
    pub fn stopped(reasons: &[&str]) -> Self {
        Self {
            state: STOPPED,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            message: "Stopped.".into(),
            accepting_jobs: false,
            job_status: 0x0506,
        }
    }
}

/// How a `FakePrinter` treats each connection.
#[derive(Clone, Debug)]
pub enum FakeBehaviour {
    /// Speaks IPP (HTTP/1.1 keep-alive): Get-Printer-Attributes with this status; every
    /// other operation answered `job_status` (after its whole request is read).
    Answer(FakeStatus),
    /// Accepts and closes at once, reading nothing (over TLS: before the handshake).
    CloseOnAccept,
    /// Reads the HTTP header and this many bytes after it, then closes (with data still
    /// unread the kernel sends a reset): a printer that hangs up mid-job.
    HangUpAfter(usize),
    /// Reads the HTTP header and this many bytes after it, then neither reads nor
    /// answers, keeping the connection open until the fake is dropped: a printer that
    /// stalls mid-job (the client's write or read time-out must fire).
    StallAfter(usize),
    /// Answers Get-Printer-Attributes and Get-Job-Attributes with `status` (an idle,
    /// healthy printer to every check), then hangs up `after` bytes into any other
    /// request (a Print-Job): a printer that dies mid-job.
    HangUpOnJob { status: FakeStatus, after: usize },
    /// Like `HangUpOnJob`, but stalls `after` bytes into the job (keeps the connection
    /// open, reads nothing more, never answers).
    StallOnJob { status: FakeStatus, after: usize },
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

#[derive(Default)]
struct FakeRecord {
    connections: usize,
    operations: Vec<u16>,
    body_bytes: usize,
    held: Vec<Box<dyn Stream>>,
}

/// A scripted printer on 127.0.0.1, plain IPP or IPPS, for states and failures
/// ippeveprinter cannot show. Runs on std threads (any runtime, or none).
pub struct FakePrinter {
    port: u16,
    cert_pem: Option<String>,
    behaviour: Arc<Mutex<FakeBehaviour>>,
    record: Arc<Mutex<FakeRecord>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FakePrinter {
    /// Plain IPP: `uri()`.
    pub fn start(behaviour: FakeBehaviour) -> Self {
        Self::start_with(behaviour, None)
    }

    /// IPPS (rustls, a self-signed certificate for 127.0.0.1 and localhost:
    /// `cert_pem`): `ipps_uri()`.
    pub fn start_tls(behaviour: FakeBehaviour) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .expect("certificate");
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .expect("TLS config");
        config.send_tls13_tickets = 0;
        Self::start_with(behaviour, Some((Arc::new(config), certified.cert.pem())))
    }

    fn start_with(
        behaviour: FakeBehaviour,
        tls: Option<(Arc<rustls::ServerConfig>, String)>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let behaviour = Arc::new(Mutex::new(behaviour));
        let record = Arc::new(Mutex::new(FakeRecord::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let cert_pem = tls.as_ref().map(|(_, pem)| pem.clone());
        let config = tls.map(|(config, _)| config);
        let accept = {
            let (behaviour, record, stop) = (behaviour.clone(), record.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((tcp, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    record.lock().unwrap().connections += 1;
                    let now = behaviour.lock().unwrap().clone();
                    if matches!(now, FakeBehaviour::CloseOnAccept) {
                        continue; // dropped: closed
                    }
                    // Short read time-outs, so a connection thread notices `stop`.
                    let _ = tcp.set_nonblocking(false);
                    let _ = tcp.set_read_timeout(Some(Duration::from_millis(100)));
                    let _ = tcp.set_write_timeout(Some(Duration::from_secs(10)));
                    let stream: Box<dyn Stream> = match &config {
                        Some(config) => {
                            let Ok(server) = rustls::ServerConnection::new(config.clone()) else {
                                continue;
                            };
                            Box::new(rustls::StreamOwned::new(server, tcp))
                        }
                        None => Box::new(tcp),
                    };
                    let (record, stop) = (record.clone(), stop.clone());
                    std::thread::spawn(move || serve(stream, now, port, &record, &stop));
                }
            })
        };
        Self {
            port,
            cert_pem,
            behaviour,
            record,
            stop,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ipp://127.0.0.1:PORT/ipp/print` (for `start`).
    pub fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/ipp/print", self.port)
    }

    /// `ipps://127.0.0.1:PORT/ipp/print` (for `start_tls`).
    pub fn ipps_uri(&self) -> String {
        format!("ipps://127.0.0.1:{}/ipp/print", self.port)
    }

    /// The certificate it presents (`start_tls`).
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// For connections accepted from now on.
    pub fn set_behaviour(&self, behaviour: FakeBehaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.record.lock().unwrap().connections
    }

    /// Operation ids of the requests seen (0x0002 Print-Job, 0x0005 Create-Job,
    /// 0x0006 Send-Document, 0x000B Get-Printer-Attributes …), as soon as their first
    /// 8 body bytes arrived.
    pub fn operations(&self) -> Vec<u16> {
        self.record.lock().unwrap().operations.clone()
    }

    /// Bytes received after HTTP headers (chunk framing included), all connections.
    pub fn body_bytes(&self) -> usize {
        self.record.lock().unwrap().body_bytes
    }
}

impl Drop for FakePrinter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        self.record.lock().unwrap().held.clear();
    }
}

/// The IPP operation id at the start of a raw body (past a chunk-size line when the
/// body is chunked), once enough of it arrived.
fn operation_in(buf: &[u8], headers: &[(String, String)]) -> Option<u16> {
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let start = if chunked {
        buf.windows(2).position(|w| w == b"\r\n")? + 2
    } else {
        0
    };
    (buf.len() >= start + 4).then(|| u16::from_be_bytes([buf[start + 2], buf[start + 3]]))
}

/// One connection, buffered, with reads that give up when the fake stops.
struct Conn<'a> {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
    stop: &'a AtomicBool,
    record: &'a Mutex<FakeRecord>,
}

impl Conn<'_> {
    /// Reads more into the buffer; false on EOF, error, stop, or 30 s of silence.
    fn fill(&mut self) -> bool {
        let idle = Instant::now() + Duration::from_secs(30);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.stop.load(Ordering::SeqCst) || Instant::now() > idle {
                return false;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return false,
            }
        }
    }

    /// The HTTP request head (up to the blank line), lower-cased header names.
    fn head(&mut self) -> Option<Vec<(String, String)>> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                return Some(headers);
            }
            if self.buf.len() > 64 * 1024 || !self.fill() {
                return None;
            }
        }
    }

    /// Exactly `n` body bytes.
    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill() {
                return None;
            }
        }
        self.record.lock().unwrap().body_bytes += n;
        Some(self.buf.drain(..n).collect())
    }

    fn line(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                return Some(line);
            }
            if self.buf.len() > 64 * 1024 || !self.fill() {
                return None;
            }
        }
    }

    /// The whole body (Content-Length or chunked), noting the operation on the way.
    fn body(&mut self, headers: &[(String, String)]) -> Option<Vec<u8>> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let mut body = Vec::new();
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let size_line = self.line()?;
                let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
                if size == 0 {
                    while !self.line()?.is_empty() {}
                    break;
                }
                let had = body.len();
                body.extend(self.take(size)?);
                self.take(2)?;
                if had < 8 && body.len() >= 8 {
                    self.note_operation(&body);
                }
            }
        } else {
            let length: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            body.extend(self.take(length.min(8))?);
            if body.len() >= 8 {
                self.note_operation(&body);
            }
            body.extend(self.take(length - body.len())?);
        }
        Some(body)
    }

    /// The operation id of the request whose head was just read, from the buffered
    /// body, reading more as needed; nothing is consumed.
    fn peek_operation(&mut self, headers: &[(String, String)]) -> Option<u16> {
        loop {
            if let Some(op) = operation_in(&self.buf, headers) {
                return Some(op);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    fn note_operation(&self, body: &[u8]) {
        let op = u16::from_be_bytes([body[2], body[3]]);
        self.record.lock().unwrap().operations.push(op);
    }
}

fn serve(
    stream: Box<dyn Stream>,
    behaviour: FakeBehaviour,
    port: u16,
    record: &Mutex<FakeRecord>,
    stop: &AtomicBool,
) {
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        stop,
        record,
    };
    loop {
        let Some(headers) = conn.head() else {
            return;
        };
        if headers
            .iter()
            .any(|(k, v)| k == "expect" && v.eq_ignore_ascii_case("100-continue"))
            && conn
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .and_then(|_| conn.stream.flush())
                .is_err()
        {
            return;
        }
        let behaviour = match &behaviour {
            FakeBehaviour::HangUpOnJob { status, after } => match conn.peek_operation(&headers) {
                Some(0x000B | 0x0009) => FakeBehaviour::Answer(status.clone()),
                Some(_) => FakeBehaviour::HangUpAfter(*after),
                None => return,
            },
            FakeBehaviour::StallOnJob { status, after } => match conn.peek_operation(&headers) {
                Some(0x000B | 0x0009) => FakeBehaviour::Answer(status.clone()),
                Some(_) => FakeBehaviour::StallAfter(*after),
                None => return,
            },
            other => other.clone(),
        };
        match &behaviour {
            FakeBehaviour::HangUpOnJob { .. } | FakeBehaviour::StallOnJob { .. } => return,
            FakeBehaviour::CloseOnAccept => return,
            FakeBehaviour::HangUpAfter(n) | FakeBehaviour::StallAfter(n) => {
                // Raw bytes after the header (chunk framing included).
                while conn.buf.len() < *n {
                    if !conn.fill() {
                        break;
                    }
                }
                let got = conn.buf.len().min(*n);
                record.lock().unwrap().body_bytes += got;
                if let Some(op) = operation_in(&conn.buf, &headers) {
                    record.lock().unwrap().operations.push(op);
                }
                if matches!(behaviour, FakeBehaviour::StallAfter(_)) {
                    record.lock().unwrap().held.push(conn.stream);
                }
                return;
            }
            FakeBehaviour::Answer(status) => {
                let Some(body) = conn.body(&headers) else {
                    return;
                };
                let response = if body.len() < 8 {
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec()
                } else {
                    let ipp = ipp_response(&body, status, port);
                    let mut http = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\n\r\n",
                        ipp.len()
                    )
                    .into_bytes();
                    http.extend(ipp);
                    http
                };
                if conn
                    .stream
                    .write_all(&response)
                    .and_then(|_| conn.stream.flush())
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// IPP encoding: one attribute (or, with an empty name, one more value of the last).
fn attr(out: &mut Vec<u8>, tag: u8, name: &str, value: &[u8]) {
    out.push(tag);
    out.extend((name.len() as u16).to_be_bytes());
    out.extend(name.as_bytes());
    out.extend((value.len() as u16).to_be_bytes());
    out.extend(value);
}

fn attrs(out: &mut Vec<u8>, tag: u8, name: &str, values: &[&[u8]]) {
    for (i, value) in values.iter().enumerate() {
        attr(out, tag, if i == 0 { name } else { "" }, value);
    }
}

const KEYWORD: u8 = 0x44;
const TEXT: u8 = 0x41;
const NAME: u8 = 0x42;
const URI: u8 = 0x45;
const CHARSET: u8 = 0x47;
const LANGUAGE: u8 = 0x48;
const MIME: u8 = 0x49;
const ENUM: u8 = 0x23;
const INTEGER: u8 = 0x21;
const BOOLEAN: u8 = 0x22;

fn ipp_response(request: &[u8], status: &FakeStatus, port: u16) -> Vec<u8> {
    let operation = u16::from_be_bytes([request[2], request[3]]);
    let mut out = Vec::new();
    out.extend(&request[..2]); // the request's version
    let code = if operation == 0x000B {
        0x0000
    } else {
        status.job_status
    };
    out.extend(code.to_be_bytes());
    out.extend(&request[4..8]); // request-id
    out.push(0x01);
    attr(&mut out, CHARSET, "attributes-charset", b"utf-8");
    attr(&mut out, LANGUAGE, "attributes-natural-language", b"en");
    if operation != 0x000B {
        let message = if status.accepting_jobs {
            status.message.clone()
        } else {
            "Not accepting jobs.".to_owned()
        };
        attr(&mut out, TEXT, "status-message", message.as_bytes());
    } else {
        out.push(0x04);
        let uri = format!("ipp://127.0.0.1:{port}/ipp/print");
        attr(&mut out, URI, "printer-uri-supported", uri.as_bytes());
        attr(&mut out, KEYWORD, "uri-security-supported", b"none");
        attr(&mut out, KEYWORD, "uri-authentication-supported", b"none");
        attr(&mut out, NAME, "printer-name", b"fake");
        attr(
            &mut out,
            TEXT,
            "printer-make-and-model",
            b"PrintPark Fake Printer",
        );
        attr(&mut out, ENUM, "printer-state", &status.state.to_be_bytes());
        let reasons: Vec<&[u8]> = if status.reasons.is_empty() {
            vec![b"none"]
        } else {
            status.reasons.iter().map(|r| r.as_bytes()).collect()
        };
        attrs(&mut out, KEYWORD, "printer-state-reasons", &reasons);
        attr(
            &mut out,
            TEXT,
            "printer-state-message",
            status.message.as_bytes(),
        );
        attr(
            &mut out,
            BOOLEAN,
            "printer-is-accepting-jobs",
            &[u8::from(status.accepting_jobs)],
        );
        attr(&mut out, INTEGER, "queued-job-count", &0u32.to_be_bytes());
        attr(&mut out, INTEGER, "printer-up-time", &1u32.to_be_bytes());
        let operations: Vec<[u8; 4]> = [
            0x0002u32, 0x0004, 0x0005, 0x0006, 0x0008, 0x0009, 0x000A, 0x000B,
        ]
        .map(|o| o.to_be_bytes())
        .to_vec();
        let operations: Vec<&[u8]> = operations.iter().map(|o| o.as_slice()).collect();
        attrs(&mut out, ENUM, "operations-supported", &operations);
        attrs(
            &mut out,
            MIME,
            "document-format-supported",
            &[
                b"application/octet-stream",
                b"application/pdf",
                b"image/pwg-raster",
            ],
        );
        attr(
            &mut out,
            MIME,
            "document-format-default",
            b"application/octet-stream",
        );
        attr(&mut out, CHARSET, "charset-configured", b"utf-8");
        attr(&mut out, CHARSET, "charset-supported", b"utf-8");
        attr(&mut out, LANGUAGE, "natural-language-configured", b"en");
        attr(
            &mut out,
            LANGUAGE,
            "generated-natural-language-supported",
            b"en",
        );
        attrs(
            &mut out,
            KEYWORD,
            "ipp-versions-supported",
            &[b"1.1", b"2.0"],
        );
        attr(&mut out, KEYWORD, "compression-supported", b"none");
        attr(&mut out, KEYWORD, "pdl-override-supported", b"attempted");
    }
    out.push(0x03);
    out
}
