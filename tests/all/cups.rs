//! Interop: a real CUPS (Debian's `cups` 2.4) adds the secure queue the way the README
//! tells Linux users to — `lpadmin -p … -E -v ipps://…/ipp/print -m everywhere` — and
//! prints a PDF to it with `lp`; the job is parked for its owner and shows up held in
//! the owner's portal with the page count of the document.
//!
//! The test starts its own `cupsd` on 127.0.0.1 and a free port, with every directory
//! it writes (ServerRoot, spool, temp, cache, state, logs) in a temp dir: it never
//! touches a system CUPS, and needs none running.
//!
//! How the private cupsd is set up, and why:
//! - `User lp` / `Group lp`: CI runs as root, and cupsd refuses `User root` ("Will not
//!   use User root … for security reasons"); it runs filters and backends as `User`.
//!   `lp` is Debian's default print user. cupsd repairs the ownership of the spool and
//!   temp dirs itself (root:lp); the temp dir around them must only be traversable
//!   (0755), since `tempfile` makes it 0700.
//! - TLS trust: the `ipps` backend (run as `lp`) evaluates the printer's certificate
//!   with `httpCredentialsGetTrust` against the client.conf that cupsd points its
//!   children at (`CUPS_SERVERROOT` = our ServerRoot). Stock CUPS 2.4 settings
//!   (`TrustOnFirstUse Yes`, `AllowAnyRoot Yes`, `ValidateCerts No`) accept any
//!   self-signed certificate (the backend stores nothing, so every job is a "first
//!   use"); this test is stricter and *pins* PrintPark's: `TrustOnFirstUse No`,
//!   `ValidateCerts Yes`, and the server's own certificate is stored where a non-root
//!   libcups looks for known credentials: `$HOME/.cups/ssl/<host>.crt`, with `HOME` =
//!   cupsd's TempDir for its children (written after the start: cupsd empties its
//!   TempDir when it starts). A self-signed certificate is a chain of one, so
//!   `AllowAnyRoot Yes` stays. (Checked by hand: without the pinned file this
//!   configuration stops the queue with `cups-pki-invalid`, "Trust on first use is
//!   disabled.")
//! - `-m everywhere`: in CUPS 2.4 `lpadmin` only names the model; cupsd itself fetches
//!   Get-Printer-Attributes in a background thread (anonymously allowed by PrintPark)
//!   and writes the PPD a moment later, without evaluating certificate trust. So the
//!   test waits until the queue's PPD is served before printing.
//! - The credentials travel in the device URI (`ipps://user:password@host…`): the
//!   backend answers its own password callback with them (HTTP Basic).
//!
//! CUPS converts the PDF with `pdftopdf` (cups-filters) and sends
//! Validate-Job, Create-Job, Send-Document, then polls Get-Job-Attributes until the job
//! is `pending-held`, where its backend stops waiting: the CUPS job completes.

use crate::support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use printpark::jobs::JobState;
use support::{Backend, TestServer};

/// A two-page PDF (see tests/fixtures/documents/README.md).
const DOCUMENT: &str = "document-a4.pdf";
const DOCUMENT_PAGES: i64 = 2;
const QUEUE: &str = "PrintPark";
const OWNER: &str = "ada";
const OWNER_PASSWORD: &str = "cups-print-secret-42";

/// Runs a command off the async runtime (the PrintPark server shares it).
pub(crate) async fn run(mut command: Command) -> Output {
    let shown = format!("{command:?}");
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{shown}: {e} (tests/run.sh installs Debian's cups)"))
}

pub(crate) fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Pages as poppler's `pdfinfo` (installed with cups) counts them: an independent parser.
async fn pdfinfo_pages(file: &Path) -> i64 {
    let mut command = Command::new("pdfinfo");
    command.arg(file);
    let output = run(command).await;
    assert!(
        output.status.success(),
        "pdfinfo {}: {}",
        file.display(),
        text(&output)
    );
    text(&output)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count from pdfinfo {}", file.display()))
}

/// A private cupsd on 127.0.0.1:`port`; stopped (with its process group) on drop, also
/// when an assertion fails.
pub(crate) struct Cups {
    pub(crate) dir: tempfile::TempDir,
    port: u16,
    daemon: Child,
}

impl Cups {
    pub(crate) async fn start(pinned_host: &str, pinned_cert: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root_buf = dir.path().to_path_buf();
        let root = root_buf.as_path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["etc/ppd", "etc/ssl", "spool/tmp", "cache", "state", "log"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        let port = support::free_port();
        let d = |p: &str| root.join(p).display().to_string();
        std::fs::write(
            root.join("etc/cupsd.conf"),
            format!(
                "Listen 127.0.0.1:{port}\n\
                 LogLevel debug\n\
                 MaxLogSize 0\n\
                 Browsing No\n\
                 WebInterface No\n\
                 DefaultAuthType None\n\
                 ErrorPolicy stop-printer\n\
                 <Location />\n  Order allow,deny\n  Allow from 127.0.0.1\n</Location>\n\
                 <Policy default>\n\
                 \x20 JobPrivateAccess all\n  JobPrivateValues none\n\
                 \x20 SubscriptionPrivateAccess all\n  SubscriptionPrivateValues none\n\
                 \x20 <Limit All>\n    Order deny,allow\n  </Limit>\n\
                 </Policy>\n"
            ),
        )
        .unwrap();
        // cupsd refuses to run filters and backends as root: see the module doc.
        let user = if support::running_as_root() {
            "User lp\nGroup lp\n"
        } else {
            ""
        };
        std::fs::write(
            root.join("etc/cups-files.conf"),
            format!(
                "ServerRoot {}\nRequestRoot {}\nTempDir {}\nCacheDir {}\nStateDir {}\n\
                 ErrorLog {}\nAccessLog {}\nPageLog {}\n{user}SystemGroup root\nFileDevice No\n",
                d("etc"),
                d("spool"),
                d("spool/tmp"),
                d("cache"),
                d("state"),
                d("log/error_log"),
                d("log/access_log"),
                d("log/page_log"),
            ),
        )
        .unwrap();
        // Read by cupsd's own libcups and by its children (CUPS_SERVERROOT), and by the
        // client commands below: PrintPark's self-signed certificate is pinned, not
        // trusted on first use (see the module doc).
        std::fs::write(
            root.join("etc/client.conf"),
            "AllowAnyRoot Yes\nAllowExpiredCerts No\nTrustOnFirstUse No\nValidateCerts Yes\n",
        )
        .unwrap();
        let console = std::fs::File::create(root.join("log/console")).unwrap();
        let daemon = Command::new(support::sbin("cupsd"))
            .args([
                "-f",
                "-c",
                &d("etc/cupsd.conf"),
                "-s",
                &d("etc/cups-files.conf"),
            ])
            .env("CUPS_SERVERROOT", d("etc"))
            .env("HOME", root)
            // Its own process group, so Drop stops it and anything it left running.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(console.try_clone().unwrap())
            .stderr(console)
            .spawn()
            .expect("cupsd is installed (tests/run.sh installs Debian's cups)");
        let mut cups = Self { dir, port, daemon };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Some(status) = cups.daemon.try_wait().unwrap() {
                panic!("cupsd exited ({status}) at start\n{}", cups.diagnostics());
            }
            assert!(
                Instant::now() < deadline,
                "cupsd did not listen in 30 s\n{}",
                cups.diagnostics()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Pinned after the start: cupsd empties its TempDir (the children's HOME) when
        // it starts.
        let ssl = root.join("spool/tmp/.cups/ssl");
        std::fs::create_dir_all(&ssl).unwrap();
        for p in [root.join("spool/tmp/.cups"), ssl.clone()] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let pin = ssl.join(format!("{pinned_host}.crt"));
        std::fs::copy(pinned_cert, &pin).unwrap();
        std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o644)).unwrap();
        cups
    }

    pub(crate) fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A CUPS client command aimed at this cupsd (`-h`), reading our client.conf only.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("CUPS_SERVERROOT", self.dir.path().join("etc"))
            .env("HOME", self.dir.path())
            .env_remove("CUPS_SERVER")
            .args(["-h", &self.server()]);
        command
    }

    pub(crate) fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("log").join(name)).unwrap_or_default()
    }

    /// The end of cupsd's logs, for failure messages.
    pub(crate) fn diagnostics(&self) -> String {
        let error_log = self.log("error_log");
        let lines: Vec<&str> = error_log.lines().collect();
        let tail = lines[lines.len().saturating_sub(120)..].join("\n");
        format!(
            "--- cupsd console ---\n{}\n--- cupsd error_log (last 120 lines) ---\n{tail}",
            self.log("console")
        )
    }
}

impl Drop for Cups {
    fn drop(&mut self) {
        let group = format!("-{}", self.daemon.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        // cupsd stops its jobs' filters and backends on SIGTERM; give it a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.daemon.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.daemon.wait();
    }
}

/// The cells of the portal's table row for the job named `name`.
fn portal_row(html: &str, name: &str) -> Option<Vec<String>> {
    // Cells carry classes and labels (`<td class="num pages" data-label="Pages">`) and
    // the name sits in a span: each cell's text, tags stripped.
    let wanted = format!("<span class=\"name\">{name}</span>");
    let row = html.split("<tr").find(|row| row.contains(&wanted))?;
    let row = row.split("</tr>").next()?;
    Some(
        row.split("<td")
            .skip(1)
            .map(|cell| {
                let inner = cell.split_once('>').map_or("", |(_, rest)| rest);
                let inner = inner.split("</td>").next().unwrap_or("");
                let mut text = String::new();
                let mut in_tag = false;
                for c in inner.chars() {
                    match c {
                        '<' => in_tag = true,
                        '>' => in_tag = false,
                        c if !in_tag => text.push(c),
                        _ => {}
                    }
                }
                text.trim().to_owned()
            })
            .collect(),
    )
}

#[tokio::test]
async fn cups_lpadmin_everywhere_and_lp_park_a_pdf_held_for_its_owner_with_its_page_count() {
    let started = Instant::now();
    let server = TestServer::start(Backend::Sqlite).await;
    // A server past its first run (until an admin exists every page leads to /setup).
    support::first_admin(&server, &server.client()).await;
    let owner = support::create_user(&server, OWNER, OWNER_PASSWORD).await;
    let bystander = support::create_user(&server, "bob", "bob's own password").await;
    let address = server.base.trim_start_matches("https://").to_owned();
    let host = address.rsplit_once(':').unwrap().0.to_owned();
    let cert = server.dir.path().join("tls/cert.pem");
    assert!(
        cert.exists(),
        "the self-signed certificate is at {}",
        cert.display()
    );

    let cups = Cups::start(&host, &cert).await;
    println!("cupsd on {} ({:?})", cups.server(), started.elapsed());

    // Add the queue as the README tells Linux users to.
    let device_uri = format!("ipps://{OWNER}:{OWNER_PASSWORD}@{address}/ipp/print");
    let mut lpadmin = cups.command(&support::sbin("lpadmin"));
    lpadmin.args(["-p", QUEUE, "-E", "-v", &device_uri, "-m", "everywhere"]);
    let output = run(lpadmin).await;
    assert!(
        output.status.success(),
        "lpadmin: {}\n{}",
        text(&output),
        cups.diagnostics()
    );

    // cupsd makes the IPP Everywhere PPD in the background: wait until it is served.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut lpoptions = cups.command("lpoptions");
        lpoptions.args(["-p", QUEUE, "-l"]);
        let output = run(lpoptions).await;
        if output.status.success() && text(&output).contains("PageSize") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no IPP Everywhere PPD for {QUEUE} after 60 s: {}\n{}",
            text(&output),
            cups.diagnostics()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ppd =
        std::fs::read_to_string(cups.dir.path().join(format!("etc/ppd/{QUEUE}.ppd"))).unwrap();
    assert!(ppd.contains("IPP Everywhere"), "generated PPD:\n{ppd}");
    assert!(
        ppd.contains("*Manufacturer: \"PrintPark\""),
        "generated PPD:\n{ppd}"
    );
    println!("queue added ({:?})", started.elapsed());

    // Print.
    let mut lp = cups.command("lp");
    lp.args(["-d", QUEUE]).arg(support::fixture_path(DOCUMENT));
    let output = run(lp).await;
    let said = text(&output);
    assert!(
        output.status.success(),
        "lp: {said}\n{}",
        cups.diagnostics()
    );
    let request_id = said
        .split_whitespace()
        .skip_while(|w| *w != "is")
        .nth(1)
        .unwrap_or_else(|| panic!("no request id in {said:?}"))
        .to_owned();
    let cups_job: u32 = request_id.rsplit('-').next().unwrap().parse().unwrap();

    // CUPS completes its job once the backend has sent the document and seen the
    // remote job pending-held. A stopped queue means the backend failed: say why.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut completed = cups.command("lpstat");
        completed.args(["-W", "completed", "-o", QUEUE]);
        let done = text(&run(completed).await);
        if done
            .lines()
            .any(|l| l.starts_with(&format!("{request_id} ")))
        {
            break;
        }
        let mut state = cups.command("lpstat");
        state.args(["-p", QUEUE]);
        let state = text(&run(state).await);
        assert!(
            !state.contains("disabled"),
            "CUPS stopped the queue: {state}\n{}",
            cups.diagnostics()
        );
        assert!(
            Instant::now() < deadline,
            "CUPS job {request_id} not completed after 90 s: {state}\n{}",
            cups.diagnostics()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("CUPS job {request_id} completed ({:?})", started.elapsed());
    // What CUPS itself counted (pdftopdf logs the pages it passed on).
    let page_log = cups.log("page_log");
    let cups_pages: Option<i64> = page_log
        .lines()
        .filter(|l| l.starts_with(&format!("{QUEUE} ")))
        .filter(|l| l.split_whitespace().nth(2) == Some(cups_job.to_string().as_str()))
        .filter_map(|l| l.split(" total ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .next_back();

    // The job is parked for its owner, and for nobody else.
    let held = server.services.jobs.held_jobs_of(&owner).await.unwrap();
    assert_eq!(held.len(), 1, "held jobs of {OWNER}: {held:?}");
    let job = &held[0];
    assert_eq!(job.state, JobState::Held);
    assert_eq!(job.name, DOCUMENT);
    assert_eq!(job.format, "application/pdf");
    assert_eq!(job.source, "ipp");
    let by_id = server.services.jobs.job_of(&owner, job.id).await.unwrap();
    assert_eq!(by_id.id, job.id);
    assert!(
        server
            .services
            .jobs
            .job_of(&bystander, job.id)
            .await
            .is_err()
    );
    assert!(
        server
            .services
            .jobs
            .all_jobs_of(&bystander)
            .await
            .unwrap()
            .is_empty()
    );

    // The document as CUPS sent it (pdftopdf's output, not the fixture's bytes), read
    // back from the vault and counted by poppler.
    let mut sent = Vec::new();
    let mut reader = server
        .services
        .jobs
        .document(&owner, job.id, 1)
        .await
        .unwrap();
    while let Some(chunk) = reader.next_chunk().await.unwrap() {
        sent.extend_from_slice(&chunk);
    }
    assert!(sent.starts_with(b"%PDF-"), "CUPS sent a PDF");
    assert_eq!(sent.len() as i64, job.size_bytes);
    let work = tempfile::tempdir().unwrap();
    let sent_path = work.path().join("cups-sent.pdf");
    std::fs::File::create(&sent_path)
        .unwrap()
        .write_all(&sent)
        .unwrap();
    assert_eq!(
        pdfinfo_pages(&support::fixture_path(DOCUMENT)).await,
        DOCUMENT_PAGES
    );
    let sent_pages = pdfinfo_pages(&sent_path).await;
    println!(
        "CUPS sent {} bytes (fixture {} bytes): {sent_pages} pages by pdfinfo, {cups_pages:?} by CUPS's page_log, {:?} by PrintPark",
        sent.len(),
        std::fs::metadata(support::fixture_path(DOCUMENT))
            .unwrap()
            .len(),
        job.pages
    );
    assert_eq!(
        sent_pages, DOCUMENT_PAGES,
        "pages of the document CUPS sent"
    );
    assert_eq!(
        cups_pages,
        Some(DOCUMENT_PAGES),
        "CUPS's page_log:\n{page_log}"
    );
    if job.pages != Some(DOCUMENT_PAGES) {
        // Keep the evidence for the analyser (src/jobs/analyse.rs).
        let _ = std::fs::write("/tmp/cups-sent.pdf", &sent);
    }
    assert_eq!(
        job.pages,
        Some(DOCUMENT_PAGES),
        "PrintPark's page count of the PDF CUPS sent (kept in /tmp/cups-sent.pdf)"
    );

    // The owner sees it, held, in the portal.
    let browser = server.client();
    let response = support::login(&server, &browser, OWNER, OWNER_PASSWORD).await;
    assert_eq!(response.status(), 303, "sign-in redirects");
    assert_eq!(response.headers()["location"], "/portal");
    let page = support::get_text(&browser, server.url("/portal")).await;
    let row = portal_row(&page, DOCUMENT)
        .unwrap_or_else(|| panic!("the portal does not list {DOCUMENT}:\n{page}"));
    // Document, Pages, Copies, Colour, Submitted, Size, Expires in.
    assert_eq!(row[0], DOCUMENT);
    assert_eq!(row[1], DOCUMENT_PAGES.to_string(), "portal row {row:?}");

    let error_log = cups.log("error_log");
    let errors: Vec<&str> = error_log.lines().filter(|l| l.starts_with("E ")).collect();
    assert!(
        errors.is_empty(),
        "cupsd logged errors:\n{}",
        errors.join("\n")
    );
    drop(cups);
    server.stop().await;
    println!("done in {:?}", started.elapsed());
}
