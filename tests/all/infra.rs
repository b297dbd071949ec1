//! Printers that pull their jobs over HTTPS (IPP INFRA, PWG 5100.18), end to end: an
//! output device that follows the reference proxy's request sequence step by step
//! (`support::infra_device`) prints on a real `ippeveprinter`; a user prints with
//! `ipptool`, releases at the printer, and the exact bytes reach the printer. Also:
//! the device started after the release, killed mid-fetch and restarted, and the
//! security rules (a device sees only its printer's released jobs; users and revoked
//! devices get 401).

use crate::support;

use std::time::Duration;

use printpark::db::PrinterRow;
use printpark::identity::{ClientInfo, User};
use printpark::ipp::wire::Value;
use printpark::release::{NewOutputDevice, ReleaseVia};
use support::infra_device::{DeviceConfig, OutputDevice, Phase, infra_request, ipp_request};
use support::printer::{PrinterOptions, TestPrinter};
use support::{Backend, TestServer};

const ANN_PASSWORD: &str = "ann's long password";

struct World {
    server: TestServer,
    admin: User,
    ann: User,
    home: tempfile::TempDir,
}

async fn world(backend: Backend) -> World {
    let server = TestServer::start(backend).await;
    let admin = support::create_admin(&server.services.identity).await;
    let ann = support::create_user(&server, "ann", ANN_PASSWORD).await;
    World {
        server,
        admin,
        ann,
        home: tempfile::tempdir().unwrap(),
    }
}

impl World {
    /// A printer whose jobs its output device pulls.
    async fn pulled_printer(&self, name: &str) -> PrinterRow {
        support::sign_in::pulled_printer(&self.server, &self.admin, name).await
    }

    async fn enrol(&self, printer: &PrinterRow) -> NewOutputDevice {
        self.server
            .services
            .release
            .infra()
            .add_device(&self.admin, printer.id, "proxy", &ClientInfo::default())
            .await
            .unwrap()
    }

    fn device_config(&self, device: &NewOutputDevice, local: &TestPrinter) -> DeviceConfig {
        DeviceConfig::new(
            &self.server.base,
            &device.login,
            &device.secret,
            &local.uri(),
        )
    }

    /// Ann prints `bytes` as a PDF with CUPS's ipptool over IPPS; returns the job id.
    async fn print_with_ipptool(&self, bytes: &[u8]) -> i64 {
        let file = self.home.path().join("document.pdf");
        std::fs::write(&file, bytes).unwrap();
        let uri = format!(
            "{}/ipp/print",
            self.server
                .base
                .replace("https://", "ipps://ann:ann%27s%20long%20password@")
        );
        let output = support::printer::ipptool(
            &["-tv", "-f", file.to_str().unwrap(), &uri, "print-job.test"],
            self.home.path(),
        )
        .await;
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "ipptool print-job failed:\n{text}");
        let jobs = self
            .server
            .services
            .jobs
            .held_jobs_of(&self.ann)
            .await
            .unwrap();
        jobs.first().expect("the printed job is held").id
    }

    async fn release_all(&self, printer: &PrinterRow) -> Vec<i64> {
        self.server
            .services
            .release
            .release_all(
                &self.ann,
                &printer.guid,
                ReleaseVia::Station,
                &ClientInfo::default(),
            )
            .await
            .unwrap()
    }

    async fn release_state(&self, id: i64) -> String {
        self.server
            .services
            .db
            .release_by_id(id)
            .await
            .unwrap()
            .state
            .to_string()
    }

    async fn wait_release(&self, id: i64, state: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let now = self.release_state(id).await;
            if now == state {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "release {id} is {now}, not {state}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The job's sealed blob is gone from the store and its row says printed.
    async fn assert_printed_and_purged(&self, job_id: i64) {
        let job = self
            .server
            .services
            .jobs
            .job_of(&self.ann, job_id)
            .await
            .unwrap();
        assert_eq!(job.state, printpark::jobs::JobState::Printed);
        let (_, blobs) = self
            .server
            .services
            .jobs
            .for_delivery(job_id)
            .await
            .unwrap();
        assert!(blobs.is_empty(), "the printed job's documents are purged");
    }
}

fn unique_pdf(marker: &str) -> Vec<u8> {
    let mut pdf = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();
    pdf.extend_from_slice(format!("\n%{marker}\n").as_bytes());
    pdf
}

/// The operations the device sent to the server, without its local printer's.
fn ops(device: &OutputDevice) -> Vec<&'static str> {
    device.server_ops()
}

#[tokio::test]
async fn an_output_device_following_the_reference_proxy_prints_the_exact_bytes_and_the_job_is_purged()
 {
    let w = world(Backend::Sqlite).await;
    let local = TestPrinter::start(PrinterOptions::named("infra-local")).await;
    let printer = w.pulled_printer("Second floor").await;
    let enrolled = w.enrol(&printer).await;
    let mut config = w.device_config(&enrolled, &local);
    config.first_request_unauthenticated = true;
    let device = OutputDevice::start(config).await;
    assert_eq!(device.phase(), Phase::Running, "{:?}", device.errors());
    // The server challenged the first request, and told the device its printer URI.
    assert!(device.log()[0].is_challenge(), "{:?}", device.log()[0]);
    assert!(
        device
            .printer_uri()
            .unwrap()
            .ends_with(&format!("/ipp/infra/{}", printer.guid))
    );

    let pdf = unique_pdf("infra-exact-bytes-7f3a");
    let job_id = w.print_with_ipptool(&pdf).await;
    let releases = w.release_all(&printer).await;
    assert_eq!(releases.len(), 1);
    let release = releases[0];
    assert!(
        device
            .wait_for_printed(release as i32, Duration::from_secs(60))
            .await,
        "{:#?}",
        device.log()
    );
    w.wait_release(release, "printed").await;
    w.assert_printed_and_purged(job_id).await;
    let spooled = {
        local.wait_for_jobs_done(1, Duration::from_secs(30)).await;
        local.spooled_files()
    };
    assert_eq!(spooled[0].bytes(), pdf, "the printer got the exact bytes");

    // The reference proxy's sequence, step by step.
    let sent = ops(&device);
    let expected_start = [
        "Register-Output-Device",
        "Create-Printer-Subscriptions",
        "Update-Output-Device-Attributes",
        "Get-Jobs",
        "Get-Notifications",
    ];
    assert_eq!(&sent[..5], &expected_start, "{sent:?}");
    let after: Vec<&str> = sent
        .iter()
        .copied()
        .skip_while(|op| *op != "Fetch-Job")
        .collect();
    assert_eq!(
        &after[..8],
        &[
            "Fetch-Job",
            "Acknowledge-Job",
            "Update-Job-Status",
            "Update-Document-Status",
            "Fetch-Document",
            "Update-Document-Status",
            "Acknowledge-Document",
            "Update-Job-Status",
        ],
        "{sent:?}"
    );
    assert_eq!(
        sent.iter().filter(|op| **op == "Get-Jobs").count(),
        1,
        "Get-Jobs only once, at start"
    );
    // What the device said about its printer is kept for the admin.
    let devices = w
        .server
        .services
        .release
        .infra()
        .devices_of(&w.admin, printer.id)
        .await
        .unwrap();
    assert!(
        devices[0].formats.contains("image/pwg-raster"),
        "{devices:?}"
    );
    assert_eq!(devices[0].device_uuid.as_deref(), Some(device.uuid()));

    device.stop().await;
    let devices = w
        .server
        .services
        .release
        .infra()
        .devices_of(&w.admin, printer.id)
        .await
        .unwrap();
    assert_eq!(devices[0].device_uuid, None, "deregistered");
    drop(local);
}

#[tokio::test]
async fn a_device_started_after_the_release_finds_the_job_with_get_jobs_on_postgres() {
    let w = world(Backend::Postgres).await;
    let local = TestPrinter::start(PrinterOptions::named("infra-late")).await;
    let printer = w.pulled_printer("Late").await;
    let enrolled = w.enrol(&printer).await;
    let pdf = unique_pdf("infra-late-1c2d");
    let job_id = w.print_with_ipptool(&pdf).await;
    // Nobody is there yet: the release is accepted and waits, fetchable.
    let release = w.release_all(&printer).await[0];
    assert_eq!(w.release_state(release).await, "queued");
    let device = OutputDevice::start(w.device_config(&enrolled, &local)).await;
    assert!(
        device
            .wait_for_printed(release as i32, Duration::from_secs(60))
            .await,
        "{:#?}",
        device.log()
    );
    w.wait_release(release, "printed").await;
    w.assert_printed_and_purged(job_id).await;
    assert_eq!(
        {
            local.wait_for_jobs_done(1, Duration::from_secs(30)).await;
            local.spooled_files()
        }[0]
        .bytes(),
        pdf
    );
    device.stop().await;
    drop(local);
}

#[tokio::test]
async fn a_device_killed_mid_fetch_leaves_the_job_needing_attention_and_after_a_retry_it_prints_once()
 {
    let w = world(Backend::Sqlite).await;
    let local = TestPrinter::start(PrinterOptions::named("infra-killed")).await;
    let printer = w.pulled_printer("Killed").await;
    let enrolled = w.enrol(&printer).await;
    let device = OutputDevice::start(w.device_config(&enrolled, &local)).await;
    device.kill_during_fetch();
    // Large enough that the fetch is cut mid-way.
    let mut pdf = unique_pdf("infra-killed-9e8f");
    pdf.extend(std::iter::repeat_n(b'%', 4 << 20));
    let job_id = w.print_with_ipptool(&pdf).await;
    let release = w.release_all(&printer).await[0];
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while device.phase() != Phase::Killed {
        assert!(std::time::Instant::now() < deadline, "{:#?}", device.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    device.kill();
    // The restarted device registers again: the job it was fetching needs attention
    // (it may have reached the printer), and is not fetchable by anyone.
    let device = OutputDevice::start(w.device_config(&enrolled, &local)).await;
    w.wait_release(release, "needs-attention").await;
    let job = w.server.services.jobs.job_of(&w.ann, job_id).await.unwrap();
    assert_eq!(job.state, printpark::jobs::JobState::NeedsAttention);
    // An administrator checked the printer and sends it again: it prints once.
    let again = w
        .server
        .services
        .release
        .retry(&w.admin, release, &ClientInfo::default())
        .await
        .unwrap();
    assert!(
        device
            .wait_for_printed(again as i32, Duration::from_secs(60))
            .await,
        "{:#?}",
        device.log()
    );
    w.wait_release(again, "printed").await;
    let files = {
        local.wait_for_jobs_done(1, Duration::from_secs(30)).await;
        local.spooled_files()
    };
    assert_eq!(files.len(), 1, "printed once");
    assert_eq!(files[0].bytes(), pdf);
    w.assert_printed_and_purged(job_id).await;
    device.stop().await;
    drop(local);
}

/// Sends one request as `login`/`secret` (or with none) to `path`.
async fn raw(
    w: &World,
    path: &str,
    auth: Option<(&str, &str)>,
    operation: u16,
    attrs: &[(&str, Value)],
) -> (u16, Option<u16>) {
    let uri = format!("{}{path}", w.server.base.replace("https://", "ipps://"));
    let mut request = infra_request(
        operation,
        &uri,
        "someone",
        Some("urn:uuid:00000000-0000-4000-8000-000000000001"),
    );
    for (name, value) in attrs {
        request.groups[0].push(printpark::ipp::wire::Attribute::new(name, value.clone()));
    }
    let (http, response, _) = ipp_request(
        &support::insecure_client(),
        &format!("{}{path}", w.server.base),
        auth.map(|(login, _)| login),
        auth.map_or("", |(_, secret)| secret),
        &request,
    )
    .await;
    (http, response.map(|m| m.code))
}

#[tokio::test]
async fn only_the_printers_own_device_fetches_released_jobs_and_users_and_revoked_devices_get_401()
{
    use printpark::ipp::op;
    let w = world(Backend::Sqlite).await;
    let here = w.pulled_printer("Here").await;
    let there = w.pulled_printer("There").await;
    let mine = w.enrol(&here).await;
    let other = w.enrol(&there).await;
    let here_path = format!("/ipp/infra/{}", here.guid);
    let there_path = format!("/ipp/infra/{}", there.guid);
    let fetchable = [("which-jobs", Value::keyword("fetchable"))];

    // Held, not released: never fetchable.
    let job_id = w.print_with_ipptool(&unique_pdf("infra-security")).await;
    let (http, status) = raw(
        &w,
        &here_path,
        Some((&mine.login, &mine.secret)),
        op::FETCH_JOB,
        &[("job-id", Value::Integer(job_id as i32))],
    )
    .await;
    assert_eq!(
        (http, status),
        (200, Some(0x0420)),
        "not fetchable before release"
    );

    let release = w.release_all(&here).await[0] as i32;
    // The other printer's device cannot take it, on its own path or on ours.
    let (_, status) = raw(
        &w,
        &there_path,
        Some((&other.login, &other.secret)),
        op::FETCH_JOB,
        &[("job-id", Value::Integer(release))],
    )
    .await;
    assert_eq!(
        status,
        Some(0x0420),
        "another printer's device cannot fetch it"
    );
    let (_, status) = raw(
        &w,
        &here_path,
        Some((&other.login, &other.secret)),
        op::FETCH_JOB,
        &[("job-id", Value::Integer(release))],
    )
    .await;
    assert_eq!(
        status,
        Some(0x0406),
        "another printer's path is not found for it"
    );
    let (_, status) = raw(
        &w,
        &there_path,
        Some((&other.login, &other.secret)),
        op::GET_JOBS,
        &fetchable,
    )
    .await;
    assert_eq!(status, Some(0x0000));

    // No credentials, a user's password, a wrong secret: 401 with a Basic challenge.
    assert_eq!(
        raw(&w, &here_path, None, op::GET_JOBS, &fetchable).await.0,
        401
    );
    assert_eq!(
        raw(
            &w,
            "/ipp/system",
            Some(("ann", ANN_PASSWORD)),
            op::GET_JOBS,
            &fetchable
        )
        .await
        .0,
        401
    );
    assert_eq!(
        raw(
            &w,
            &here_path,
            Some(("ann", ANN_PASSWORD)),
            op::FETCH_JOB,
            &[("job-id", Value::Integer(release))]
        )
        .await
        .0,
        401
    );
    assert_eq!(
        raw(
            &w,
            &here_path,
            Some((&mine.login, "not the secret")),
            op::GET_JOBS,
            &fetchable
        )
        .await
        .0,
        401
    );
    // A device's credentials do not print into the secure queue either.
    assert_eq!(
        raw(
            &w,
            "/ipp/print",
            Some((&mine.login, &mine.secret)),
            op::GET_JOBS,
            &[]
        )
        .await
        .0,
        401
    );

    // Its own device can; then it is revoked and gets 401, and the job it had fetched
    // (no document yet) is fetchable again.
    let (_, status) = raw(
        &w,
        &here_path,
        Some((&mine.login, &mine.secret)),
        op::FETCH_JOB,
        &[("job-id", Value::Integer(release))],
    )
    .await;
    assert_eq!(status, Some(0x0000));
    assert_eq!(w.release_state(i64::from(release)).await, "releasing");
    let device = w
        .server
        .services
        .release
        .infra()
        .devices_of(&w.admin, here.id)
        .await
        .unwrap()[0]
        .id;
    w.server
        .services
        .release
        .infra()
        .revoke_device(&w.admin, device, &ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(
        raw(
            &w,
            &here_path,
            Some((&mine.login, &mine.secret)),
            op::GET_JOBS,
            &fetchable
        )
        .await
        .0,
        401
    );
    assert_eq!(w.release_state(i64::from(release)).await, "queued");
    // Every refused sign-in is in the audit log, without the secret.
    let audit = w
        .server
        .services
        .db
        .audit_page(None, 200, Some("output_device.login"))
        .await
        .unwrap();
    let denied = audit.len();
    assert!(denied >= 4, "{denied} refused device sign-ins audited");
    assert!(!format!("{audit:?}").contains(&mine.secret));
}

/// Debian's ippsample-data test files (tests/run.sh unpacks them).
fn ippsample_test(name: &str) -> std::path::PathBuf {
    let dir = std::env::var("IPPSAMPLE_DATA").unwrap_or_else(|_| {
        format!(
            "{}/.cache/printpark/ippsample-data",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let path = std::path::Path::new(&dir)
        .join("usr/share/cups/ipptool")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: tests/run.sh unpacks Debian's ippsample-data (IPPSAMPLE_DATA)",
        path.display()
    );
    path
}

#[tokio::test]
async fn ipptool_get_jobs_fetchable_test_passes_against_the_device_path() {
    let w = world(Backend::Sqlite).await;
    let printer = w.pulled_printer("Fetchable").await;
    let device = w.enrol(&printer).await;
    // One released job, so the listing has something to show.
    w.print_with_ipptool(&unique_pdf("infra-ipptool")).await;
    let release = w.release_all(&printer).await[0];
    let uri = format!(
        "{}/ipp/infra/{}",
        w.server.base.replace(
            "https://",
            &format!("ipps://{}:{}@", device.login, device.secret)
        ),
        printer.guid
    );
    let test = ippsample_test("get-jobs-fetchable.test");
    let output = support::printer::ipptool(
        &["-tv", "-d", "MY-JOBS=false", &uri, test.to_str().unwrap()],
        w.home.path(),
    )
    .await;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    println!("{text}");
    assert!(
        output.status.success(),
        "get-jobs-fetchable.test failed:\n{text}"
    );
    assert!(
        text.contains(&format!("job-id (integer) = {release}")),
        "{text}"
    );
    assert!(text.contains("job-fetchable"), "{text}");
}

/// The PWG's reference proxy, built from ippsample's public source outside the project
/// (`IPPPROXY=/path/to/ippproxy`; see docs/infra.md). Not on CI machines: run with
/// `IPPPROXY=… cargo test --test all infra:: -- --ignored`.
struct Ippproxy {
    child: tokio::process::Child,
    log: std::path::PathBuf,
}

impl Ippproxy {
    async fn start(w: &World, device: &NewOutputDevice, local: &TestPrinter) -> Self {
        let binary = std::env::var("IPPPROXY").expect("IPPPROXY=/path/to/ippproxy");
        let log = w.home.path().join(format!("ippproxy-{}.log", device.login));
        let child = tokio::process::Command::new(binary)
            .args(["-v", "-u", &device.login, "-d", &local.uri()])
            .arg(format!("{}/ipp/system", w.server.base))
            // libcups keeps the user per thread: -u covers only the main thread.
            .env("CUPS_USER", &device.login)
            .env("IPPPROXY_PASSWORD", &device.secret)
            .env("HOME", w.home.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("ippproxy starts");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM: it finishes, cancels its subscription and deregisters.
    async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(40), self.child.wait()).await;
        let _ = self.child.start_kill();
        self.log()
    }
}

#[tokio::test]
#[ignore = "needs the reference ippproxy built from ippsample's source (IPPPROXY=…)"]
async fn the_reference_ippproxy_prints_released_jobs_byte_for_byte() {
    let w = world(Backend::Sqlite).await;
    let local = TestPrinter::start(PrinterOptions::named("ippproxy-local")).await;
    let printer = w.pulled_printer("Reference proxy").await;
    let device = w.enrol(&printer).await;

    // Released before the proxy starts: found by its one Get-Jobs.
    let early = unique_pdf("ippproxy-early-31b7");
    w.print_with_ipptool(&early).await;
    let first = w.release_all(&printer).await[0];
    let proxy = Ippproxy::start(&w, &device, &local).await;
    w.wait_release(first, "printed").await;

    // Released while it long-polls: found by its job-fetchable event.
    let late = unique_pdf("ippproxy-late-4c0e");
    let job = w.print_with_ipptool(&late).await;
    let second = w.release_all(&printer).await[0];
    w.wait_release(second, "printed").await;
    w.assert_printed_and_purged(job).await;

    local.wait_for_jobs_done(2, Duration::from_secs(30)).await;
    let files = local.spooled_files();
    assert_eq!(files.len(), 2, "{}", proxy.log());
    let mut got: Vec<Vec<u8>> = files.iter().map(|f| f.bytes()).collect();
    got.sort();
    let mut want = vec![early, late];
    want.sort();
    assert!(
        got == want,
        "the printer got the exact bytes\n{}",
        proxy.log()
    );

    let log = proxy.stop().await;
    let devices = w
        .server
        .services
        .release
        .infra()
        .devices_of(&w.admin, printer.id)
        .await
        .unwrap();
    assert_eq!(
        devices[0].device_uuid, None,
        "deregistered on SIGTERM\n{log}"
    );
    println!("{log}");
}

#[tokio::test]
async fn a_device_app_signs_the_person_in_with_a_pin_lists_their_jobs_and_releases_them_to_itself()
{
    let w = world(Backend::Sqlite).await;
    w.server
        .services
        .identity
        .set_own_pin(&w.ann, ANN_PASSWORD, "482916", &ClientInfo::default())
        .await
        .unwrap();
    let local = TestPrinter::start(PrinterOptions::named("infra-app")).await;
    let printer = w.pulled_printer("Panel").await;
    let enrolled = w.enrol(&printer).await;
    let device = OutputDevice::start(w.device_config(&enrolled, &local)).await;
    let pdf = unique_pdf("infra-app-5d6e");
    let job_id = w.print_with_ipptool(&pdf).await;

    let http = support::insecure_client();
    let api = |path: &str| format!("{}/api/v1/output-device/{path}", w.server.base);
    let as_device =
        |r: reqwest::RequestBuilder| r.basic_auth(&enrolled.login, Some(&enrolled.secret));

    // Not the device: refused, whatever the person sends.
    let pin = serde_json::json!({"login": "ann", "pin": "482916"});
    let response = http.post(api("session")).json(&pin).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = http
        .post(api("session"))
        .basic_auth("ann", Some(ANN_PASSWORD))
        .json(&pin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "a user is not a device");
    // A wrong PIN is refused (and counts toward the lockout).
    let wrong = serde_json::json!({"login": "ann", "pin": "000000"});
    let response = as_device(http.post(api("session")))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let unknown = serde_json::json!({"badge": "04A1B2C3"});
    let response = as_device(http.post(api("session")))
        .json(&unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let session: serde_json::Value = as_device(http.post(api("session")))
        .json(&pin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["username"], "ann");
    let token = session["token"].as_str().unwrap().to_string();
    // Without the device's credentials the person's session alone opens nothing.
    let response = http
        .get(api("jobs"))
        .header("X-User-Session", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let jobs: serde_json::Value = as_device(http.get(api("jobs")))
        .header("X-User-Session", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs[0]["id"], job_id);
    let released: serde_json::Value = as_device(http.post(api("release")))
        .header("X-User-Session", &token)
        .json(&serde_json::json!({"job_ids": [job_id]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let release = released["job_ids"][0].as_i64().unwrap();
    assert!(
        device
            .wait_for_printed(release as i32, Duration::from_secs(60))
            .await,
        "{:#?}",
        device.log()
    );
    w.wait_release(release, "printed").await;
    local.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!(local.spooled_files()[0].bytes(), pdf);
    let row = w.server.services.db.release_by_id(release).await.unwrap();
    assert_eq!(row.via, "device");
    let response = as_device(http.delete(api("session")))
        .header("X-User-Session", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let response = as_device(http.get(api("jobs")))
        .header("X-User-Session", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "signed out");
    device.stop().await;
    drop(local);
}

#[tokio::test]
async fn a_silent_device_gives_back_a_job_it_did_not_download_and_leaves_one_it_downloaded_needing_attention()
 {
    use printpark::ipp::op;
    // Leases of 2 s: the sweeper (every 5 s) finds a silent device's jobs quickly.
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), |dir| {
        let mut s = support::settings(dir, &support::sqlite_url(dir));
        s.release.lease_secs = 2;
        s
    })
    .await;
    let w = World {
        admin: support::create_admin(&server.services.identity).await,
        ann: support::create_user(&server, "ann", ANN_PASSWORD).await,
        server,
        home: tempfile::tempdir().unwrap(),
    };
    let printer = w.pulled_printer("Silent").await;
    let device = w.enrol(&printer).await;
    let path = format!("/ipp/infra/{}", printer.guid);
    let auth = Some((device.login.as_str(), device.secret.as_str()));
    // A subscription, to see the job announced again.
    let uri = format!("{}{path}", w.server.base.replace("https://", "ipps://"));
    let mut subscribe = infra_request(op::CREATE_PRINTER_SUBSCRIPTIONS, &uri, &device.login, None);
    let mut group = printpark::ipp::wire::Group::new(printpark::ipp::wire::group::SUBSCRIPTION);
    group.push(printpark::ipp::wire::Attribute::new(
        "notify-pull-method",
        Value::keyword("ippget"),
    ));
    group.push(printpark::ipp::wire::Attribute::new(
        "notify-events",
        Value::keyword("job-fetchable"),
    ));
    subscribe.groups.push(group);
    let (_, answer, _) = ipp_request(
        &support::insecure_client(),
        &format!("{}{path}", w.server.base),
        auth.map(|a| a.0),
        &device.secret,
        &subscribe,
    )
    .await;
    assert_eq!(answer.unwrap().code, 0);

    w.print_with_ipptool(&unique_pdf("infra-silent-a")).await;
    let taken = w.release_all(&printer).await[0] as i32;
    w.print_with_ipptool(&unique_pdf("infra-silent-b")).await;
    let downloaded = w.release_all(&printer).await[0] as i32;
    let job = |id: i32| [("job-id", Value::Integer(id))];
    assert_eq!(
        raw(&w, &path, auth, op::FETCH_JOB, &job(taken)).await.1,
        Some(0)
    );
    assert_eq!(
        raw(&w, &path, auth, op::FETCH_JOB, &job(downloaded))
            .await
            .1,
        Some(0)
    );
    let mut fetch = job(downloaded).to_vec();
    fetch.push(("document-number", Value::Integer(1)));
    assert_eq!(
        raw(&w, &path, auth, op::FETCH_DOCUMENT, &fetch).await.1,
        Some(0)
    );
    // Then the device says nothing more.
    w.wait_release(i64::from(downloaded), "needs-attention")
        .await;
    w.wait_release(i64::from(taken), "queued").await;
    let row = w
        .server
        .services
        .db
        .release_by_id(i64::from(downloaded))
        .await
        .unwrap();
    assert!(row.reason.contains("went silent"), "{}", row.reason);
    // The job given back is announced again (a device relying on events finds it).
    let events = w.server.services.db.infra_events(1, 1, 10).await.unwrap();
    let announced: Vec<i64> = events.iter().filter_map(|e| e.release_id).collect();
    assert_eq!(
        announced,
        vec![i64::from(taken), i64::from(downloaded), i64::from(taken)],
        "{events:?}"
    );
    assert!(events.windows(2).all(|p| p[1].seq == p[0].seq + 1));
}

#[tokio::test]
async fn a_device_long_polling_one_server_hears_of_a_release_made_on_another_sharing_postgres() {
    let url = support::fresh_postgres_url().await;
    let shared = tempfile::tempdir().unwrap();
    let blobs = shared.path().join("blobs");
    let one = TestServer::start_with(tempfile::tempdir().unwrap(), |dir| {
        let mut s = support::settings(dir, &url);
        s.storage.path = Some(blobs.clone());
        s
    })
    .await;
    let key = std::fs::read_to_string(one.services.settings.master_key_path()).unwrap();
    let two = TestServer::start_with(tempfile::tempdir().unwrap(), |dir| {
        let mut s = support::settings(dir, &url);
        s.storage.path = Some(blobs.clone());
        s.vault.master_key = Some(printpark::config::Secret::new(key.trim()));
        s
    })
    .await;
    let w = World {
        admin: support::create_admin(&one.services.identity).await,
        ann: support::create_user(&one, "ann", ANN_PASSWORD).await,
        server: one,
        home: tempfile::tempdir().unwrap(),
    };
    let local = TestPrinter::start(PrinterOptions::named("infra-two")).await;
    let printer = w.pulled_printer("Shared").await;
    let enrolled = w.enrol(&printer).await;
    // The device talks to server two only; the release happens on server one.
    let device = OutputDevice::start(DeviceConfig::new(
        &two.base,
        &enrolled.login,
        &enrolled.secret,
        &local.uri(),
    ))
    .await;
    assert_eq!(device.phase(), Phase::Running, "{:?}", device.errors());
    let pdf = unique_pdf("infra-two-servers");
    w.print_with_ipptool(&pdf).await;
    let released_at = std::time::Instant::now();
    let release = w.release_all(&printer).await[0];
    assert!(
        device
            .wait_for_printed(release as i32, Duration::from_secs(60))
            .await,
        "{:#?}",
        device.log()
    );
    let took = released_at.elapsed();
    println!("printed {took:?} after the release");
    // Woken by the other server's event, not by the end of its 25 s hold.
    assert!(
        took < Duration::from_secs(15),
        "{took:?}: the release was not noticed across servers"
    );
    // Found by its event (Get-Jobs ran once, before the release, and found nothing).
    let log = device.log();
    let fetch = log.iter().position(|s| s.op == "Fetch-Job").unwrap();
    assert!(log[..fetch].iter().any(
        |s| s.op == "Get-Notifications" && s.events.iter().any(|e| e.event == "job-fetchable")
    ));
    w.wait_release(release, "printed").await;
    local.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!(local.spooled_files()[0].bytes(), pdf);
    device.stop().await;
    drop(local);
}

#[tokio::test]
async fn fetch_document_is_gzip_compressed_when_asked_and_refused_in_a_format_the_device_cannot_print()
 {
    use printpark::ipp::op;
    use std::io::Read;
    let w = world(Backend::Sqlite).await;
    let printer = w.pulled_printer("Gzip").await;
    let device = w.enrol(&printer).await;
    let path = format!("/ipp/infra/{}", printer.guid);
    let url = format!("{}{path}", w.server.base);
    let uri = format!("{}{path}", w.server.base.replace("https://", "ipps://"));
    let pdf = unique_pdf("infra-gzip");
    w.print_with_ipptool(&pdf).await;
    let release = w.release_all(&printer).await[0] as i32;
    let send = |operation: u16, attrs: Vec<(&'static str, Value)>| {
        let mut request = infra_request(operation, &uri, &device.login, None);
        for (name, value) in attrs {
            request.groups[0].push(printpark::ipp::wire::Attribute::new(name, value));
        }
        let (url, login, secret) = (url.clone(), device.login.clone(), device.secret.clone());
        async move {
            ipp_request(
                &support::insecure_client(),
                &url,
                Some(&login),
                &secret,
                &request,
            )
            .await
        }
    };
    let (_, answer, _) = send(op::FETCH_JOB, vec![("job-id", Value::Integer(release))]).await;
    assert_eq!(answer.unwrap().code, 0);
    // Only a format PrintPark cannot make (issue 17 converts into the others): it says
    // so, nothing was sent, and the release failed with the reason (job held again).
    let (_, answer, rest) = send(
        op::FETCH_DOCUMENT,
        vec![
            ("job-id", Value::Integer(release)),
            ("document-number", Value::Integer(1)),
            (
                "document-format-accepted",
                Value::mime("application/x-printer-dialect"),
            ),
        ],
    )
    .await;
    let answer = answer.unwrap();
    assert_eq!(answer.code, 0x040A);
    assert!(rest.is_empty());
    assert!(
        printpark::ipp::client::status_message(&answer).contains("takes none of the formats"),
        "{answer:?}"
    );
    let row = w
        .server
        .services
        .db
        .release_by_id(i64::from(release))
        .await
        .unwrap();
    assert!(!row.transmitting, "a refused fetch sends nothing");
    assert_eq!(row.state.as_str(), "failed");
    assert!(row.reason.contains("nothing was sent"), "{}", row.reason);
    // Released again, fetched as it is, gzipped.
    let release = w.release_all(&printer).await[0] as i32;
    let (_, answer, _) = send(op::FETCH_JOB, vec![("job-id", Value::Integer(release))]).await;
    assert_eq!(answer.unwrap().code, 0);
    let (_, answer, rest) = send(
        op::FETCH_DOCUMENT,
        vec![
            ("job-id", Value::Integer(release)),
            ("document-number", Value::Integer(1)),
            ("document-format-accepted", Value::mime("application/pdf")),
            ("compression-accepted", Value::keyword("gzip")),
        ],
    )
    .await;
    let answer = answer.unwrap();
    assert_eq!(answer.code, 0);
    assert_eq!(answer.operation_str("compression"), Some("gzip"));
    assert_eq!(
        answer.operation_str("document-format"),
        Some("application/pdf")
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&rest[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, pdf);
    // A document the job does not have.
    let (_, answer, _) = send(
        op::FETCH_DOCUMENT,
        vec![
            ("job-id", Value::Integer(release)),
            ("document-number", Value::Integer(2)),
        ],
    )
    .await;
    assert_eq!(answer.unwrap().code, 0x0406);
}

#[tokio::test]
async fn malformed_ipp_on_the_infra_paths_gets_a_clear_400_and_the_device_carries_on() {
    use printpark::ipp::op;
    let w = world(Backend::Sqlite).await;
    let printer = w.pulled_printer("Garbage").await;
    let device = w.enrol(&printer).await;
    let http = support::insecure_client();
    for path in [
        "/ipp/system".to_string(),
        format!("/ipp/infra/{}", printer.guid),
    ] {
        // A truncated attribute (value length past the end).
        let garbage = [2u8, 0, 0, 0x5F, 0, 0, 0, 1, 1, 0x47, 0, 18, b'a'];
        let response = http
            .post(format!("{}{path}", w.server.base))
            .basic_auth(&device.login, Some(&device.secret))
            .header("Content-Type", "application/ipp")
            .body(garbage.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        assert!(response.text().await.unwrap().contains("malformed"));
    }
    // Attributes that are not IPP's: a clear IPP status, then a good request works.
    let fetchable = [("which-jobs", Value::keyword("fetchable"))];
    let path = format!("/ipp/infra/{}", printer.guid);
    let auth = Some((device.login.as_str(), device.secret.as_str()));
    let (_, status) = raw(
        &w,
        &path,
        auth,
        op::FETCH_JOB,
        &[("job-id", Value::keyword("x"))],
    )
    .await;
    assert_eq!(status, Some(0x0400));
    let (_, status) = raw(&w, &path, auth, 0x3FFF, &[]).await;
    assert_eq!(status, Some(0x0501), "unknown operation");
    assert_eq!(
        raw(&w, &path, auth, op::GET_JOBS, &fetchable).await.1,
        Some(0)
    );
}
