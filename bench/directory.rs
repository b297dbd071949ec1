//! The directory (issue 16, LDAP / Active Directory): sign-in latency through the
//! directory next to a local account, and a sync of 10,000 directory people next to
//! OpenLDAP's own `ldapsearch` paging the same entries.
//!
//! Run: `cargo bench --bench directory` (about a minute after the build; needs Debian
//! `slapd` and `ldap-utils`). Options, after `--`: `--people N` (10000), `--sign-ins N`
//! (200 of each kind).
//!
//! What it does:
//! - starts a real slapd (`tests/support/slapd.rs`: AD-like schema, memberof overlay,
//!   StartTLS, a search that does not page stops at 1000 like AD) seeded by `slapadd`
//!   with N people in the group PrintUsers (and the service account);
//! - **peer**: `ldapsearch` pages (1000 a page, AD's MaxPageSize) through the same
//!   entries with the same filter (the AD preset's) and the same attributes as the
//!   sync, over StartTLS as the service account, three times; it must find N + 1
//!   entries (the service account is a `user` too). Its peak RSS is GNU time's `%M`
//!   when `/usr/bin/time` exists;
//! - starts PrintPark in this process, as the tests do (`Services::start` on a temp
//!   data dir, SQLite, `web::serve_on` on 127.0.0.1:0), its `[ldap]` section pointed at
//!   the slapd (StartTLS, the fixture's CA), its local admin `boss`;
//! - **sync**: `directory.sync_now` twice: the first creates N people, the second finds
//!   nothing to change. Time, CPU of this process and of slapd, and peak memory =
//!   VmHWM of **this process** (server and bench; reset through /proc/self/clear_refs
//!   before each run), next to its RSS before. The report must say N created, then N
//!   unchanged, and the database must hold N directory people;
//! - **sign-in**: alternately a directory person (each a different one: no cache can
//!   help) and the local admin (Argon2 with the default cost) sign in through the
//!   login form (a fresh browser each: GET /login untimed, the POST timed, on the same
//!   keep-alive TLS connection); then one directory person again and again (what a
//!   short cache of recent binds would do). Each answer must be the 303 to the signed-in
//!   page with a session cookie. p50 / p99 / max per kind.
//!
//! Other load on the machine (CPU used by other processes meanwhile) is printed for
//! each phase; the machine is shared with builds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark that cannot go on stops with the reason"
)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use printpark::config::{LdapSecurity, Secret, Settings};
use printpark::identity::ClientInfo;
use printpark::services::Services;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;
#[path = "../tests/support/slapd.rs"]
#[allow(dead_code)]
mod slapd;

use common::{
    all_processes_cpu, cpu_secs, create_admin, fsync_ms, load_average, machine, mib, others_cpu,
    percentile, proc_status_kib, reset_peak,
};
use slapd::{Flavor, Person, Slapd};

/// What the sync reads with the AD preset (and memberOf, which AD returns with it).
const ATTRIBUTES: [&str; 8] = [
    "sAMAccountName",
    "mail",
    "displayName",
    "department",
    "employeeID",
    "objectGUID",
    "userAccountControl",
    "memberOf",
];
const AD_FILTER: &str = "(&(objectCategory=person)(objectClass=user))";

struct Options {
    people: usize,
    sign_ins: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
    };
    Options {
        people: value("--people").unwrap_or(10_000),
        sign_ins: value("--sign-ins").unwrap_or(200),
    }
}

fn main() {
    let opts = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(opts));
}

/// One timed `ldapsearch` through all the people: seconds, entries, peak RSS (KiB).
fn ldapsearch_pages(slapd: &Slapd) -> (f64, usize, Option<u64>) {
    let gnu_time = std::path::Path::new("/usr/bin/time").exists();
    let mut cmd = if gnu_time {
        let mut c = slapd.tool("/usr/bin/time");
        c.args(["-f", "maxrss-kib=%M", "ldapsearch"]);
        c
    } else {
        slapd.tool("ldapsearch")
    };
    cmd.args([
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-ZZ",
        "-x",
        "-E",
        "pr=1000/noprompt",
    ])
    .args(["-H", &slapd.ldap_url, "-D", &slapd.service_dn()])
    .args([
        "-w",
        Slapd::SERVICE_PASSWORD,
        "-b",
        slapd.base_dn(),
        AD_FILTER,
    ])
    .args(ATTRIBUTES);
    let started = Instant::now();
    let out = cmd.output().expect("ldapsearch (Debian ldap-utils)");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "ldapsearch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("dn:"))
        .count();
    let rss = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("maxrss-kib="))
        .and_then(|v| v.trim().parse().ok());
    (secs, entries, rss)
}

struct Sample {
    kind: &'static str,
    ms: Vec<f64>,
}

impl Sample {
    fn line(&self) -> String {
        format!(
            "  {:<44} {:>5} {:>9.1} {:>9.1} {:>9.1}",
            self.kind,
            self.ms.len(),
            percentile(&self.ms, 50.0),
            percentile(&self.ms, 99.0),
            percentile(&self.ms, 100.0)
        )
    }
}

/// Signs in through the login form with a fresh browser; the POST's milliseconds.
async fn sign_in(base: &str, login: &str, password: &str) -> f64 {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .tls_danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("csrf field") + marker.len();
    let csrf = &page[start..start + page[start..].find('"').unwrap()];
    let started = Instant::now();
    let answer = client
        .post(format!("{base}/login"))
        .form(&[("csrf", csrf), ("login", login), ("password", password)])
        .send()
        .await
        .unwrap();
    let took = started.elapsed().as_secs_f64() * 1e3;
    let location = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let cookie = answer.headers().get("set-cookie").is_some();
    let status = answer.status();
    assert!(
        status == 303 && !location.starts_with("/login") && cookie,
        "{login} did not sign in: {status} {location}: {}",
        answer.text().await.unwrap_or_default()
    );
    took
}

async fn run(opts: Options) {
    let n = opts.people;
    println!(
        "PrintPark directory benchmark: {}; load average {} at the start; SQLite, local disk; fsync (4 KiB) p50 {:.2} ms",
        machine(),
        load_average(),
        fsync_ms(&std::env::temp_dir())
    );

    // The directory.
    let started = Instant::now();
    let people = Person::many("p", n);
    let slapd = Slapd::start_with(Flavor::ActiveDirectory, &people);
    let slapd_pid = slapd.pid().expect("slapd runs");
    println!(
        "slapd (Debian {}) with {n} AD-like people in PrintUsers: seeded (slapadd) and answering in {:.1} s",
        slapd_version(),
        started.elapsed().as_secs_f64()
    );

    // The peer: ldapsearch paging the same entries.
    println!(
        "\nPeer: ldapsearch -E pr=1000 over StartTLS, filter {AD_FILTER}, {} attributes",
        ATTRIBUTES.len()
    );
    let mut peer_secs = Vec::new();
    for round in 1..=3 {
        let (secs, entries, rss) = ldapsearch_pages(&slapd);
        assert_eq!(
            entries,
            n + 1,
            "ldapsearch found {entries}, not {n} people + the service account"
        );
        println!(
            "  run {round}: {secs:.2} s for {entries} entries, peak RSS {}",
            mib(rss)
        );
        peer_secs.push(secs);
    }

    // PrintPark in this process.
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    s.server.listen = "127.0.0.1:0".into();
    s.database.url = Some(Secret::new(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    )));
    s.log.level = "warn".into();
    s.queue.analyser_exe = Some(PathBuf::from(env!("CARGO_BIN_EXE_printpark")));
    s.ldap = slapd.settings(LdapSecurity::StartTls);
    s.ldap.timeout_secs = 30;
    let services = Services::start(s).await.expect("services start");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (server, addr) = printpark::web::serve_on(services.clone(), listener).expect("serve");
    let handle = server.handle();
    tokio::spawn(server);
    let base = format!("https://{addr}");
    let client = ClientInfo::default();
    let admin = create_admin(&services, &client).await;

    // The sync, twice.
    println!(
        "\nSync of {n} directory people (StartTLS; peak memory = VmHWM of this process: server + bench)"
    );
    println!(
        "  {:<20} {:>8} {:>10} {:>10} {:>11} {:>11} {:>9}",
        "run", "seconds", "our CPU s", "slapd CPU", "RSS before", "peak RSS", "others"
    );
    let me = std::process::id();
    let mut sync_secs = Vec::new();
    for (label, expect_created) in [("first (creates)", n as u64), ("second (no change)", 0)] {
        let rss_before = proc_status_kib(me, "VmRSS");
        let peak_reset = reset_peak(me);
        let cpu0 = (
            cpu_secs(None, false),
            cpu_secs(Some(slapd_pid), false),
            all_processes_cpu(),
        );
        let started = Instant::now();
        let report = services
            .directory
            .sync_now(Some(&admin), &client)
            .await
            .unwrap_or_else(|e| panic!("sync failed: {e}\nslapd log:\n{}", slapd.log()));
        let secs = started.elapsed().as_secs_f64();
        let others = others_cpu(&cpu0.2, &all_processes_cpu(), &[me, slapd_pid]);
        let peak = proc_status_kib(me, "VmHWM");
        println!(
            "  {label:<20} {secs:>8.2} {:>10.2} {:>10.2} {:>11} {:>11} {:>8.2}s{}",
            cpu_secs(None, false) - cpu0.0,
            cpu_secs(Some(slapd_pid), false) - cpu0.1,
            mib(rss_before),
            mib(peak),
            others,
            if peak_reset {
                ""
            } else {
                " (VmHWM not reset: peak since start)"
            }
        );
        println!(
            "    report: created {}, updated {}, disabled {}, unchanged {}, skipped {}",
            report.created,
            report.updated,
            report.disabled,
            report.unchanged,
            report.skipped.len()
        );
        assert_eq!(report.created, expect_created, "{label}");
        assert_eq!((report.updated, report.disabled), (0, 0), "{label}");
        sync_secs.push(secs);
    }
    let synced = services
        .db
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.source == "ldap" && !u.disabled)
        .count();
    assert_eq!(synced, n, "directory people in the database");
    let best_peer = peer_secs.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "  first sync / fastest ldapsearch: {:.1}x; second sync / ldapsearch: {:.1}x",
        sync_secs[0] / best_peer,
        sync_secs[1] / best_peer
    );

    // Sign-ins.
    let rounds = opts.sign_ins.min(n);
    println!("\nSign-in through the login form (POST timed; {rounds} of each, alternating)");
    let cpu0 = all_processes_cpu();
    let mut directory = Sample {
        kind: "directory person (a different one each time)",
        ms: Vec::new(),
    };
    let mut local = Sample {
        kind: "local account (Argon2, default cost)",
        ms: Vec::new(),
    };
    for i in 0..rounds {
        let person = &people[(i * 7919) % n];
        directory
            .ms
            .push(sign_in(&base, &person.username, &person.password).await);
        local
            .ms
            .push(sign_in(&base, "boss", "correct horse battery").await);
    }
    let mut again = Sample {
        kind: "directory person, the same one again",
        ms: Vec::new(),
    };
    for _ in 0..rounds.min(50) {
        again
            .ms
            .push(sign_in(&base, &people[1].username, &people[1].password).await);
    }
    let others = others_cpu(&cpu0, &all_processes_cpu(), &[me, slapd_pid]);
    println!(
        "  {:<44} {:>5} {:>9} {:>9} {:>9}",
        "kind", "n", "p50 ms", "p99 ms", "max ms"
    );
    for sample in [&directory, &local, &again] {
        println!("{}", sample.line());
    }
    println!("  other processes used {others:.2} s of CPU meanwhile");
    println!("load average at the end: {}", load_average());
    handle.stop(true).await;
    drop(slapd);
}

fn slapd_version() -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "slapd"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "slapd".into())
}
