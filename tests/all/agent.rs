//! The on-site agent (`printpark agent`), end to end: a real server, the real binary as
//! the agent, and a real `ippeveprinter` inside a network namespace (a "site") that
//! only the agent shares — the server has no route to the printer. A job printed to
//! the server with `ipptool` and released at the site's printer reaches it byte for
//! byte through the agent. Also: the agent killed mid-fetch, the server restarted
//! mid-fetch, the network cut until the agent notices (nothing lost, nothing printed
//! twice), and the agent's enrolment, approval, status and revocation.

use crate::support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use printpark::db::PrinterRow;
use printpark::identity::{ClientInfo, User};
use printpark::release::{AgentTrust, PrinterForm, ReleaseVia};
use support::netns::Site;
use support::printer::{PrinterOptions, TestPrinter};
use support::{Backend, TestServer};

const ANN_PASSWORD: &str = "ann's long password";

/// What the agent logs when the server did not answer its heartbeat.
const HEARTBEAT_FAILED: &str = "heartbeat failed";

/// The real agent binary, in the site (or on the host when `site` is None).
struct Agent {
    child: Option<tokio::process::Child>,
    state_dir: PathBuf,
    log: PathBuf,
    netns: Option<PathBuf>,
}

impl Agent {
    fn command(netns: Option<&Path>) -> tokio::process::Command {
        match netns {
            Some(ns) => {
                tokio::process::Command::from(support::netns::command_in(ns, support::binary()))
            }
            None => tokio::process::Command::new(support::binary()),
        }
    }

    fn start(site: Option<&Site>, state_dir: &Path, args: &[&str]) -> Agent {
        let netns = site.map(Site::netns_path);
        let log = state_dir.with_extension("log");
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        use std::io::Write;
        writeln!(out, "--- agent start {args:?}").unwrap();
        let child = Self::command(netns.as_deref())
            .arg("agent")
            .arg("--state-dir")
            .arg(state_dir)
            .args(args)
            .env("PRINTPARK_LOG__LEVEL", "info,printpark=debug")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .expect("printpark agent");
        Agent {
            child: Some(child),
            state_dir: state_dir.to_path_buf(),
            log,
            netns,
        }
    }

    fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the agent first");
        let site_ns = self.netns.clone();
        let log = self.log.clone();
        let mut out = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        use std::io::Write;
        writeln!(out, "--- agent restart").unwrap();
        self.child = Some(
            Self::command(site_ns.as_deref())
                .arg("agent")
                .arg("--state-dir")
                .arg(&self.state_dir)
                .env("PRINTPARK_LOG__LEVEL", "info,printpark=debug")
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .kill_on_drop(true)
                .spawn()
                .expect("printpark agent"),
        );
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// SIGTERM, and the exit status.
    async fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = rustix::process::Pid::from_raw(child.id().unwrap() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        tokio::time::timeout(Duration::from_secs(90), child.wait())
            .await
            .expect("the agent stops on SIGTERM")
            .unwrap()
    }

    /// Waits until the agent exits by itself.
    async fn exited(&mut self, within: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        tokio::time::timeout(within, child.wait())
            .await
            .unwrap_or_else(|_| panic!("the agent did not exit:\n{}", self.log_text()))
            .unwrap()
    }

    async fn status(&self) -> String {
        let output = Self::command(self.netns.as_deref())
            .args(["agent", "status", "--state-dir"])
            .arg(&self.state_dir)
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "agent status: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

struct World {
    server: Option<TestServer>,
    addr: SocketAddr,
    admin: User,
    ann: User,
    home: tempfile::TempDir,
    agent_dir: tempfile::TempDir,
}

impl World {
    /// The server listens where the site reaches it (its end of the cable).
    async fn start(site: Option<&Site>) -> World {
        Self::start_with(site, Backend::Sqlite, |_| {}).await
    }

    async fn start_with(
        site: Option<&Site>,
        backend: Backend,
        tweak: fn(&mut printpark::config::Settings),
    ) -> World {
        let ip = site.map_or(std::net::Ipv4Addr::LOCALHOST, Site::host_addr);
        let addr = SocketAddr::from((ip, support::free_port()));
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => support::sqlite_url(dir.path()),
            Backend::Postgres => support::fresh_postgres_url().await,
        };
        let server = TestServer::start_on(
            dir,
            move |d| {
                let mut settings = support::settings(d, &url);
                tweak(&mut settings);
                settings
            },
            addr,
        )
        .await;
        let admin = support::create_admin(&server.services.identity).await;
        let ann = support::create_user(&server, "ann", ANN_PASSWORD).await;
        World {
            server: Some(server),
            addr,
            admin,
            ann,
            home: tempfile::tempdir().unwrap(),
            agent_dir: tempfile::tempdir().unwrap(),
        }
    }

    fn server(&self) -> &TestServer {
        self.server.as_ref().expect("the server runs")
    }

    fn base(&self) -> String {
        format!("https://{}", self.addr)
    }

    fn state_dir(&self) -> PathBuf {
        self.agent_dir.path().join("state")
    }

    /// Stops the server (as a crash would) and starts it again on the same port and data.
    async fn restart_server_after(&mut self, down: Duration) {
        let dir = self.server.take().unwrap().stop_keeping_data().await;
        tokio::time::sleep(down).await;
        let url = support::sqlite_url(dir.path());
        self.server =
            Some(TestServer::start_on(dir, move |d| support::settings(d, &url), self.addr).await);
    }

    /// A printer pulled by its agent, at `uri` as the agent reaches it.
    async fn site_printer(&self, name: &str, uri: &str) -> PrinterRow {
        self.server()
            .services
            .printers
            .add(
                &self.admin,
                &PrinterForm {
                    name: name.into(),
                    uri: uri.into(),
                    protocol: "infra".into(),
                    ..Default::default()
                },
                &ClientInfo::default(),
            )
            .await
            .unwrap()
    }

    /// Enrols the agent with a fresh code, approves it and assigns `printer` to it.
    async fn enrolled_agent(&self, site: Option<&Site>, printer: &PrinterRow) -> Agent {
        let infra = self.server().services.release.infra();
        let code = infra
            .new_enrolment_code(&self.admin, &ClientInfo::default())
            .await
            .unwrap();
        let agent = Agent::start(
            site,
            &self.state_dir(),
            &[
                "--server",
                &self.base(),
                "--enrol",
                &code,
                "--name",
                "site box",
            ],
        );
        let id = self.wait_for_agent(&agent).await;
        infra
            .approve_agent(
                &self.admin,
                id,
                "",
                &AgentTrust::default(),
                &ClientInfo::default(),
            )
            .await
            .unwrap();
        infra
            .assign_printer(&self.admin, id, printer.id, &ClientInfo::default())
            .await
            .unwrap();
        agent
    }

    async fn wait_for_agent(&self, agent: &Agent) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(row) = self.server().services.db.agents().await.unwrap().first() {
                return row.id;
            }
            assert!(
                Instant::now() < deadline,
                "the agent did not enrol:\n{}",
                agent.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ann prints `bytes` as a PDF with CUPS's ipptool over IPPS; returns the job id.
    async fn print_with_ipptool(&self, bytes: &[u8]) -> i64 {
        let uri = format!(
            "ipps://ann:ann%27s%20long%20password@{}/ipp/print",
            self.addr
        );
        self.print_to(&uri, bytes).await
    }

    /// Ann prints `bytes` as a PDF to `uri` with CUPS's ipptool (print-job.test);
    /// returns the job id the server lists for her.
    async fn print_to(&self, uri: &str, bytes: &[u8]) -> i64 {
        let file = self.home.path().join("document.pdf");
        std::fs::write(&file, bytes).unwrap();
        let output = tokio::process::Command::new("ipptool")
            .args(["-tv", "-f", file.to_str().unwrap(), uri, "print-job.test"])
            .env("HOME", self.home.path())
            .env("CUPS_USER", "ann")
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "ipptool print-job to {uri} failed:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        let held = self
            .server()
            .services
            .jobs
            .held_jobs_of(&self.ann)
            .await
            .unwrap();
        held.first().expect("the printed job is in Ann's list").id
    }

    async fn release_all(&self, printer: &PrinterRow) -> Vec<i64> {
        self.server()
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
        self.server()
            .services
            .db
            .release_by_id(id)
            .await
            .unwrap()
            .state
            .to_string()
    }

    async fn wait_release(&self, id: i64, state: &str, within: Duration, agent: &Agent) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.release_state(id).await;
            if now == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "release {id} is {now}, not {state}; agent log:\n{}",
                agent.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn agent_row(&self, name: &str) -> printpark::db::AgentRow {
        let agents = self.server().services.db.agents().await.unwrap();
        agents
            .into_iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("no agent {name}"))
    }

    /// Waits until the server counts the agent as away: not heard from for more than
    /// `offline_secs` (`release.agent_offline_secs`).
    async fn wait_away(&self, name: &str, offline_secs: i64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seen = self.agent_row(name).await.last_seen_at.unwrap_or(0);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            if seen < now - offline_secs {
                return;
            }
            assert!(Instant::now() < deadline, "{name} was last seen at {seen}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_transmitting(&self, id: i64, agent: &Agent) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self
            .server()
            .services
            .db
            .release_by_id(id)
            .await
            .unwrap()
            .transmitting
        {
            assert!(
                Instant::now() < deadline,
                "release {id} never started downloading:\n{}",
                agent.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn unique_pdf(marker: &str, padding: usize) -> Vec<u8> {
    let mut pdf = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();
    pdf.extend_from_slice(format!("\n%{marker}\n").as_bytes());
    // A comment after %%EOF: the printer ignores it; it makes the download take a while.
    let mut filler = String::with_capacity(padding);
    let mut n = 0u64;
    while filler.len() < padding {
        filler.push_str(&format!("%{:0>76}\n", n.wrapping_mul(2654435761)));
        n += 1;
    }
    pdf.extend_from_slice(filler.as_bytes());
    pdf
}

/// Slows the cable towards the site (server → agent) so a download takes seconds.
struct Throttle(String);

impl Throttle {
    fn on(site: &Site, rate: &str) -> Throttle {
        let status = std::process::Command::new(support::sbin("tc"))
            .args([
                "qdisc",
                "add",
                "dev",
                site.host_interface(),
                "root",
                "tbf",
                "rate",
                rate,
                "burst",
                "32kb",
                "latency",
                "2s",
            ])
            .status()
            .expect("tc (iproute2)");
        assert!(status.success(), "tc qdisc add failed");
        Throttle(site.host_interface().to_string())
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        let _ = std::process::Command::new(support::sbin("tc"))
            .args(["qdisc", "del", "dev", &self.0, "root"])
            .status();
    }
}

fn site_or_skip() -> Option<Site> {
    if !support::running_as_root() {
        eprintln!("skipped: a site (network namespace) needs root");
        return None;
    }
    Some(Site::create())
}

/// The printer's spooled jobs, each exactly `expected`, and exactly `count` of them.
async fn assert_printed_once(printer: &TestPrinter, expected: &[&[u8]]) {
    printer
        .wait_for_jobs_done(expected.len(), Duration::from_secs(60))
        .await;
    // Give a stray second copy time to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spooled = printer.spooled_files();
    assert_eq!(
        spooled.len(),
        expected.len(),
        "jobs at the printer: {}",
        spooled.len()
    );
    for want in expected {
        assert!(
            spooled.iter().any(|f| f.bytes() == *want),
            "a job reached the printer with other bytes"
        );
    }
}

#[tokio::test]
async fn a_site_agent_delivers_a_released_job_byte_identical_to_a_printer_only_it_can_reach() {
    let Some(site) = site_or_skip() else { return };
    let printer = TestPrinter::start(PrinterOptions::named("site-printer").in_site(&site)).await;
    let w = World::start(Some(&site)).await;
    // The server has no route to the printer: its address is the site's own loopback.
    let printer_addr = SocketAddr::from(([127, 0, 0, 1], printer.port()));
    assert!(
        std::net::TcpStream::connect_timeout(&printer_addr, Duration::from_secs(1)).is_err(),
        "the host reaches the site's printer"
    );
    assert!(
        std::net::TcpStream::connect_timeout(
            &SocketAddr::from((site.site_addr(), printer.port())),
            Duration::from_secs(1)
        )
        .is_err()
    );

    let row = w.site_printer("Site printer", &printer.uri()).await;
    let infra = w.server().services.release.infra();
    let code = infra
        .new_enrolment_code(&w.admin, &ClientInfo::default())
        .await
        .unwrap();
    let mut agent = Agent::start(
        Some(&site),
        &w.state_dir(),
        &[
            "--server",
            &w.base(),
            "--enrol",
            &code,
            "--name",
            "site box",
        ],
    );
    let id = w.wait_for_agent(&agent).await;
    // Enrolled, waiting for the admin: it has no printers and says so.
    let pending = &w.server().services.db.agent_by_id(id).await.unwrap();
    assert_eq!(
        (pending.state.as_str(), pending.name.as_str()),
        ("pending", "site box")
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !agent.log_text().contains("waiting for an admin to approve") {
        assert!(Instant::now() < deadline, "{}", agent.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The code worked once.
    let again = support::insecure_client()
        .post(format!("{}/api/v1/agent/enrol", w.base()))
        .json(&serde_json::json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);

    infra
        .approve_agent(
            &w.admin,
            id,
            "",
            &AgentTrust::default(),
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    infra
        .assign_printer(&w.admin, id, row.id, &ClientInfo::default())
        .await
        .unwrap();

    let pdf = unique_pdf("agent-exact-bytes-51c2", 0);
    let job_id = w.print_with_ipptool(&pdf).await;
    let releases = w.release_all(&row).await;
    w.wait_release(releases[0], "printed", Duration::from_secs(60), &agent)
        .await;
    assert_printed_once(&printer, &[&pdf]).await;
    let (_, blobs) = w.server().services.jobs.for_delivery(job_id).await.unwrap();
    assert!(blobs.is_empty(), "the printed job's documents are purged");

    // The admin sees the agent, its version, its printer; `agent status` says the same.
    let views = infra.agents(&w.admin).await.unwrap();
    let view = &views[0];
    assert_eq!(view.agent.state, "active");
    assert_eq!(view.agent.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(view.printers[0].1, "Site printer");
    assert!(view.agent.last_seen_at.is_some());
    let status = agent.status().await;
    assert!(
        status.contains(&w.base())
            && status.contains("Site printer")
            && status.contains("jobs under way: 0"),
        "{status}"
    );
    // Its spool held the document sealed only while delivering: nothing is left.
    assert!(support::files_under(&w.state_dir().join("spool")).is_empty());
    let exit = agent.terminate().await;
    assert!(exit.success(), "{exit:?}");
    // The printer's device secret (handed out on every heartbeat) is not kept on disk,
    // nor is the document.
    let agent_row = w.server().services.db.agent_by_id(id).await.unwrap();
    let assignment = infra
        .heartbeat(&agent_row, &Default::default(), &ClientInfo::default())
        .await
        .unwrap();
    let secret = assignment.printers[0].device_secret.clone();
    for path in support::files_under(&w.state_dir()) {
        let bytes = std::fs::read(&path).unwrap();
        for needle in [secret.as_bytes(), b"agent-exact-bytes-51c2".as_slice()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} keeps a secret",
                path.display()
            );
        }
    }
    drop(printer);
}

#[tokio::test]
async fn an_agent_killed_mid_download_and_restarted_prints_the_job_exactly_once() {
    let Some(site) = site_or_skip() else { return };
    let printer = TestPrinter::start(PrinterOptions::named("site-printer").in_site(&site)).await;
    let w = World::start(Some(&site)).await;
    let row = w.site_printer("Site printer", &printer.uri()).await;
    let mut agent = w.enrolled_agent(Some(&site), &row).await;
    let throttle = Throttle::on(&site, "2mbit");
    let pdf = unique_pdf("agent-killed-mid-fetch-a1", 1_500_000);
    w.print_with_ipptool(&pdf).await;
    let release = w.release_all(&row).await[0];
    w.wait_transmitting(release, &agent).await;
    agent.kill().await;
    drop(throttle);
    agent.restart();
    w.wait_release(release, "printed", Duration::from_secs(90), &agent)
        .await;
    assert_printed_once(&printer, &[&pdf]).await;
    assert!(
        agent
            .log_text()
            .contains("resuming a job fetched before the restart"),
        "{}",
        agent.log_text()
    );
}

#[tokio::test]
async fn a_server_restarted_mid_download_loses_nothing_and_prints_nothing_twice() {
    let Some(site) = site_or_skip() else { return };
    let printer = TestPrinter::start(PrinterOptions::named("site-printer").in_site(&site)).await;
    let mut w = World::start(Some(&site)).await;
    let row = w.site_printer("Site printer", &printer.uri()).await;
    let agent = w.enrolled_agent(Some(&site), &row).await;
    let throttle = Throttle::on(&site, "2mbit");
    let pdf = unique_pdf("agent-server-restart-b2", 1_500_000);
    w.print_with_ipptool(&pdf).await;
    let release = w.release_all(&row).await[0];
    w.wait_transmitting(release, &agent).await;
    w.restart_server_after(Duration::from_secs(3)).await;
    drop(throttle);
    w.wait_release(release, "printed", Duration::from_secs(90), &agent)
        .await;
    assert_printed_once(&printer, &[&pdf]).await;
}

#[tokio::test]
async fn a_network_cut_the_agent_notices_loses_nothing_and_prints_nothing_twice() {
    let Some(site) = site_or_skip() else { return };
    let printer = TestPrinter::start(PrinterOptions::named("site-printer").in_site(&site)).await;
    let w = World::start(Some(&site)).await;
    let row = w.site_printer("Site printer", &printer.uri()).await;
    let agent = w.enrolled_agent(Some(&site), &row).await;
    // One job on its way when the cable is cut, one released during the cut.
    let throttle = Throttle::on(&site, "2mbit");
    let first = unique_pdf("agent-cut-during-download-c3", 1_500_000);
    w.print_with_ipptool(&first).await;
    let first_release = w.release_all(&row).await[0];
    w.wait_transmitting(first_release, &agent).await;
    let failed_before = agent.log_text().matches(HEARTBEAT_FAILED).count();
    site.cut();
    let second = unique_pdf("agent-released-during-cut-d4", 0);
    w.print_with_ipptool(&second).await;
    let second_release = w.release_all(&row).await[0];
    // The cut lasts until the agent has looked for the server and not found it (a
    // heartbeat timed out: 30 to 45 s, like a real cut longer than a blip).
    let deadline = Instant::now() + Duration::from_secs(120);
    while agent.log_text().matches(HEARTBEAT_FAILED).count() == failed_before {
        assert!(
            Instant::now() < deadline,
            "the agent never noticed the cut:\n{}",
            agent.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        w.release_state(second_release).await,
        "queued",
        "nothing reaches the site during the cut"
    );
    site.restore();
    drop(throttle);
    w.wait_release(first_release, "printed", Duration::from_secs(120), &agent)
        .await;
    w.wait_release(second_release, "printed", Duration::from_secs(60), &agent)
        .await;
    assert_printed_once(&printer, &[&first, &second]).await;
}

#[tokio::test]
async fn a_revoked_agent_stops_and_its_printer_credentials_no_longer_work() {
    // No site needed: this is about credentials.
    let w = World::start(None).await;
    let printer = TestPrinter::start(PrinterOptions::named("local")).await;
    let row = w.site_printer("Local printer", &printer.uri()).await;
    let mut agent = w.enrolled_agent(None, &row).await;
    let pdf = unique_pdf("agent-before-revoke-e5", 0);
    w.print_with_ipptool(&pdf).await;
    let release = w.release_all(&row).await[0];
    w.wait_release(release, "printed", Duration::from_secs(60), &agent)
        .await;
    let infra = w.server().services.release.infra();
    let id = w.server().services.db.agents().await.unwrap()[0].id;
    // The credential the agent uses for the printer (what its heartbeat hands it).
    let agent_row = w.server().services.db.agent_by_id(id).await.unwrap();
    let assignment = infra
        .heartbeat(&agent_row, &Default::default(), &ClientInfo::default())
        .await
        .unwrap();
    let device = assignment.printers[0].clone();
    let infra_status = || async {
        support::insecure_client()
            .post(format!("{}/ipp/infra/{}", w.base(), row.guid))
            .basic_auth(&device.device_login, Some(&device.device_secret))
            .header("content-type", "application/ipp")
            // Get-Printer-Attributes with no attributes: any answer but 401 will do.
            .body(vec![2, 0, 0, 0x0b, 0, 0, 0, 1, 3])
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(infra_status().await, 200);
    infra
        .revoke_agent(&w.admin, id, &ClientInfo::default())
        .await
        .unwrap();
    // The agent hears it at its next heartbeat and stops with a clear message.
    let exit = agent.exited(Duration::from_secs(40)).await;
    assert!(!exit.success());
    assert!(
        agent.log_text().contains("refused the agent's credential"),
        "{}",
        agent.log_text()
    );
    // The printer's device credential is dead too.
    assert_eq!(infra_status().await, 401);
    let audit = w
        .server()
        .services
        .db
        .audit_page(None, 200, Some("agent."))
        .await
        .unwrap();
    for action in [
        "agent.enrol",
        "agent.approve",
        "agent.assign",
        "agent.revoke",
        "agent.login",
    ] {
        assert!(
            audit.iter().any(|a| a.action == action),
            "no {action} in the audit log"
        );
    }
}

const SITE_PASSWORD: &str = "the site password, never sent";

impl World {
    /// An ordinary printer (the server could push to it); workstation agents deliver
    /// their own jobs to it.
    async fn office_printer(&self, printer: &TestPrinter) -> PrinterRow {
        self.server()
            .services
            .printers
            .add(
                &self.admin,
                &PrinterForm {
                    name: "Office".into(),
                    uri: printer.uri(),
                    ..Default::default()
                },
                &ClientInfo::default(),
            )
            .await
            .unwrap()
    }

    /// A workstation agent called `name`, enrolled, approved, its local queue open;
    /// returns it and the queue's `host:port`.
    async fn workstation(&self, name: &str) -> (Agent, String) {
        self.workstation_with(name, SITE_PASSWORD).await
    }

    async fn workstation_with(&self, name: &str, password: &str) -> (Agent, String) {
        let password_file = self
            .agent_dir
            .path()
            .join(format!("{}.password", name.replace(' ', "-")));
        std::fs::write(&password_file, format!("{password}\n")).unwrap();
        let listen = format!("127.0.0.1:{}", support::free_port());
        let infra = self.server().services.release.infra();
        let code = infra
            .new_enrolment_code(&self.admin, &ClientInfo::default())
            .await
            .unwrap();
        let agent = Agent::start(
            None,
            &self.agent_dir.path().join(name.replace(' ', "-")),
            &[
                "--server",
                &self.base(),
                "--enrol",
                &code,
                "--name",
                name,
                "--workstation",
                "--listen",
                &listen,
                "--site-password-file",
                password_file.to_str().unwrap(),
            ],
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        // Approved once it reports its site key id (the admin confirms that id), for
        // Ann, and as a failover deliverer.
        let (id, site_key) = loop {
            let rows = self.server().services.db.agents().await.unwrap();
            if let Some(row) = rows
                .iter()
                .find(|a| a.name == name && !a.site_key_reported.is_empty())
            {
                break (row.id, row.site_key_reported.clone());
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not enrol:\n{}",
                agent.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        infra
            .approve_agent(
                &self.admin,
                id,
                &site_key,
                &AgentTrust {
                    failover_deliverer: true,
                    ..AgentTrust::people(&["ann"])
                },
                &ClientInfo::default(),
            )
            .await
            .unwrap();
        while std::net::TcpStream::connect(&listen).is_err() {
            assert!(
                Instant::now() < deadline,
                "{name}'s queue did not open:\n{}",
                agent.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (agent, listen)
    }

    /// Ann prints `pdf` to a workstation's local queue with ipptool (driverless, as
    /// the OS does); returns the job id the server lists for her.
    async fn print_on_workstation(&self, listen: &str, pdf: &[u8]) -> i64 {
        self.print_to(&format!("ipp://{listen}/ipp/print"), pdf)
            .await
    }

    fn assert_server_files_free_of(&self, needles: &[Vec<u8>]) {
        let files = support::files_under(self.server().dir.path());
        assert!(!files.is_empty());
        for path in &files {
            let bytes = std::fs::read(path).unwrap();
            for needle in needles {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "{} holds a secret of the workstation",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test]
async fn a_workstation_job_stays_on_the_workstation_and_the_server_never_holds_its_content_or_key()
{
    let w = World::start(None).await;
    let printer = TestPrinter::start(PrinterOptions::named("office")).await;
    let row = w.office_printer(&printer).await;
    let (agent, listen) = w.workstation("ann laptop").await;
    let state_dir = w.agent_dir.path().join("ann-laptop");

    let marker = "workstation-marker-9d0e7c";
    let pdf = unique_pdf(marker, 0);
    let job = w.print_on_workstation(&listen, &pdf).await;
    // In her list on the server, with what the workstation analysed.
    let held = w.server().services.jobs.job_of(&w.ann, job).await.unwrap();
    assert_eq!(
        (held.format.as_str(), held.pages),
        ("application/pdf", Some(2)),
        "pdfinfo counts 2"
    );
    let parked = support::files_under(&state_dir.join("parked"));
    assert_eq!(
        parked.len(),
        2,
        "the sealed job and its wrapped key stay on the workstation: {parked:?}"
    );

    // Zero knowledge: the server's data dir (database included) holds neither the
    // document nor the site key nor the password, in any usual encoding.
    let salt = w
        .server()
        .services
        .db
        .vault_meta("site-key-salt")
        .await
        .unwrap()
        .expect("site salt");
    let key = printpark::vault::local::site_key(SITE_PASSWORD, &salt).unwrap();
    let key_b64 = key.to_base64().to_string();
    use base64::Engine;
    let key_raw = base64::engine::general_purpose::STANDARD
        .decode(&key_b64)
        .unwrap();
    w.assert_server_files_free_of(&[
        marker.as_bytes().to_vec(),
        pdf[..64].to_vec(),
        SITE_PASSWORD.as_bytes().to_vec(),
        key_raw.clone(),
        hex::encode(&key_raw).into_bytes(),
        key_b64.clone().into_bytes(),
    ]);

    // The local queue is for IPP clients only, and says what it does.
    let not_ipp = support::insecure_client()
        .post(format!("http://{listen}/ipp/print"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(not_ipp.status(), 415);
    let attributes = tokio::process::Command::new("ipptool")
        .args([
            "-tv",
            &format!("ipp://{listen}/ipp/print"),
            "get-printer-attributes.test",
        ])
        .env("HOME", w.home.path())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&attributes.stdout);
    assert!(
        text.contains("compression-supported (keyword) = none"),
        "{text}"
    );
    assert!(
        !text.contains("Create-Job"),
        "it does not offer Create-Job: {text}"
    );

    // Released at the office printer: the workstation delivers it, byte for byte.
    let release = w.release_all(&row).await[0];
    w.wait_release(release, "printed", Duration::from_secs(60), &agent)
        .await;
    assert_printed_once(&printer, &[&pdf]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !support::files_under(&state_dir.join("parked")).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the printed job stays on the workstation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let audit = w
        .server()
        .services
        .db
        .audit_page(None, 50, Some("agent.deliver"))
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.detail.contains("ann laptop") && a.outcome == "printed"),
        "which agent delivered is audited: {audit:?}"
    );
}

#[tokio::test]
async fn a_job_whose_workstation_is_away_is_delivered_by_another_agent_of_the_site_from_its_failover_copy()
 {
    // On Postgres: the agents' queries run on both backends.
    let w = World::start_with(None, Backend::Postgres, |s| {
        s.release.agent_failover_copy = true;
        s.release.agent_offline_secs = 5;
    })
    .await;
    let printer = TestPrinter::start(PrinterOptions::named("office")).await;
    let row = w.office_printer(&printer).await;
    let (mut laptop, listen) = w.workstation("ann laptop").await;
    // A workstation of another site (another site password) never gets the job.
    let (_elsewhere, _) = w
        .workstation_with("home office", "another site's password")
        .await;

    // Ann prints on her laptop; the failover copy goes up, still sealed with the site key.
    let marker = "failover-marker-3b8a51";
    let pdf = unique_pdf(marker, 0);
    let job = w.print_on_workstation(&listen, &pdf).await;
    assert!(
        w.server()
            .services
            .db
            .failover_copy(job)
            .await
            .unwrap()
            .is_some(),
        "the failover copy was uploaded:\n{}",
        laptop.log_text()
    );
    w.assert_server_files_free_of(&[marker.as_bytes().to_vec()]);

    // The laptop goes to sleep; Ann releases at the office printer anyway. Only an
    // agent of another site is there: the release waits. Once the server counts the
    // laptop as away, the failover copy is on offer to the agents of its site; the
    // server refuses it to the other site's agent (the claim every agent's delivery
    // starts with).
    laptop.kill().await;
    let release = w.release_all(&row).await[0];
    w.wait_away("ann laptop", 5).await;
    let elsewhere = w.agent_row("home office").await;
    let claimed = w
        .server()
        .services
        .release
        .infra()
        .claim_order(&elsewhere, release)
        .await;
    assert!(claimed.is_err(), "an agent of another site may take it");
    assert_eq!(
        w.release_state(release).await,
        "queued",
        "an agent of another site took it"
    );
    // An agent of the same site comes: it delivers from the failover copy.
    let (front_desk, _) = w.workstation("front desk").await;
    w.wait_release(release, "printed", Duration::from_secs(60), &front_desk)
        .await;
    assert_printed_once(&printer, &[&pdf]).await;
    let audit = w
        .server()
        .services
        .db
        .audit_page(None, 50, Some("agent.deliver"))
        .await
        .unwrap();
    assert!(
        audit.iter().any(|a| a.detail.contains("front desk")
            && a.detail.contains("failover copy")
            && a.outcome == "printed"),
        "the audit says which agent delivered: {audit:?}"
    );
    assert!(
        w.server()
            .services
            .db
            .failover_copy(job)
            .await
            .unwrap()
            .is_none(),
        "the copy is purged once printed"
    );
}

#[tokio::test]
async fn a_release_of_a_job_whose_workstation_stays_away_fails_and_the_job_is_held_again() {
    // No failover copy: the job can only come from its workstation.
    let w = World::start_with(None, Backend::Sqlite, |s| s.release.retry_for_secs = 4).await;
    let printer = TestPrinter::start(PrinterOptions::named("office")).await;
    let row = w.office_printer(&printer).await;
    let (mut laptop, listen) = w.workstation("ann laptop").await;
    let job = w
        .print_on_workstation(&listen, &unique_pdf("away-e7", 0))
        .await;
    laptop.kill().await;
    let release = w.release_all(&row).await[0];
    w.wait_release(release, "failed", Duration::from_secs(30), &laptop)
        .await;
    let reason = w
        .server()
        .services
        .db
        .release_by_id(release)
        .await
        .unwrap()
        .reason;
    assert!(reason.contains("did not come online"), "{reason}");
    let held = w.server().services.jobs.job_of(&w.ann, job).await.unwrap();
    assert_eq!(
        held.state,
        printpark::jobs::JobState::Held,
        "Ann can release it again later"
    );
    assert!(printer.spooled_files().is_empty());
}

// Issue 17, push: the agent converts for its printer.
/// A job released to a printer that takes only PWG raster, served by a site agent,
/// reaches it as PWG raster with the PDF's pages and size (checked by cups-filters'
/// rastertopdf and pdfinfo). The agent fetches the parked PDF (it names no
/// document-format-accepted) and its push converts with the printer's own answer;
/// the same push code as the server's, whose outputs convert_push tests in depth.
#[tokio::test]
async fn a_site_agents_printer_that_takes_only_pwg_raster_gets_pwg_raster() {
    let printer =
        TestPrinter::start(PrinterOptions::named("site-pwg-only").formats(&["image/pwg-raster"]))
            .await;
    let w = World::start(None).await;
    let row = w.site_printer("PWG only", &printer.uri()).await;
    let mut agent = w.enrolled_agent(None, &row).await;
    let pdf = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();
    w.print_with_ipptool(&pdf).await;
    let releases = w.release_all(&row).await;
    w.wait_release(releases[0], "printed", Duration::from_secs(90), &agent)
        .await;
    printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    let spooled = printer.spooled_files();
    assert_eq!(spooled.len(), 1);
    let arrived = crate::convert_push::check::pwg(&spooled[0].bytes());
    assert_eq!(arrived.pages, 2, "{arrived:?}");
    let (width, height) = arrived.size_pt.unwrap();
    assert!(
        (width - 595.0).abs() < 3.0 && (height - 842.0).abs() < 3.0,
        "{arrived:?}"
    );
    assert!(agent.terminate().await.success());
}
