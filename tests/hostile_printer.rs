//! A compromised or impersonated printer against a real server (issue 14, findings 4
//! and 5): its answers cannot fill the server's memory or panic a delivery, and the
//! addresses it advertises cannot redirect deliveries to another host unless an admin
//! confirms one on the printer's page.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test that cannot go on says where, by panicking"
)]

mod support;

use std::time::{Duration, Instant};

use printpark::db::ReleaseRow;
use printpark::identity::{ClientInfo, User};
use printpark::jobs::{Compression, Submission};
use printpark::release::{PrinterForm, ReleaseVia};
use support::hostile_printer::{HostilePrinter, JobReply};
use support::{Backend, TestServer, csrf_of, get_text, login};

/// What the client may read for one answer (`ipp::client::http::response::MAX_WIRE`: twice the
/// 8 MiB body cap plus a 64 KiB head), plus what loopback socket buffers can hold.
const WIRE_CAP: usize = 2 * 8 * 1024 * 1024 + 64 * 1024;
const SOCKET_SLACK: usize = 16 * 1024 * 1024;

struct World {
    server: TestServer,
    admin: User,
    ann: User,
}

async fn world(backend: Backend) -> World {
    let server = TestServer::start(backend).await;
    let admin = support::create_admin(&server.services.identity).await;
    let ann = support::create_user(&server, "ann", "ann's long password").await;
    World { server, admin, ann }
}

impl World {
    async fn printer(&self, name: &str, uri: &str) -> printpark::db::PrinterRow {
        self.server
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
            .unwrap()
    }

    /// Parks a small PDF for Ann and releases all her jobs at `guid`.
    async fn release(&self, guid: &str) {
        let doc = b"%PDF-1.4\n% a small document\n%%EOF\n";
        self.server
            .services
            .jobs
            .park(
                &self.ann,
                &Submission {
                    name: "hostile.pdf",
                    format: "application/pdf",
                    copies: 1,
                    sides: printpark::jobs::Sides::OneSided,
                    source: "portal",
                    compression: Compression::None,
                    color_mode: printpark::jobs::ColorMode::Auto,
                    accept: None,
                    page_ranges: None,
                },
                &mut &doc[..],
                &ClientInfo::default(),
            )
            .await
            .unwrap();
        self.server
            .services
            .release
            .release_all(&self.ann, guid, ReleaseVia::Station, &ClientInfo::default())
            .await
            .unwrap();
    }

    /// Waits (at most 40 s: a bounded answer is refused in well under a second) until
    /// `count` releases of Ann have ended; newest first.
    async fn ended(&self, count: usize) -> Vec<ReleaseRow> {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let rows = self
                .server
                .services
                .db
                .releases_of_user(self.ann.id, 0)
                .await
                .unwrap();
            let ended = rows
                .iter()
                .filter(|r| matches!(r.state.as_str(), "printed" | "failed" | "needs-attention"))
                .count();
            if rows.len() >= count && ended == rows.len() {
                return rows;
            }
            assert!(
                Instant::now() < deadline,
                "the release did not end cleanly within 40 s: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// This process's resident memory (the server runs in it), in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// Waits until the fake printer saw its crafted answer cut off by the client.
async fn dropped(printer: &HostilePrinter) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while printer.dropped() == 0 {
        assert!(
            Instant::now() < deadline,
            "the server never hung up on the crafted answer ({} bytes sent so far)",
            printer.crafted_bytes()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One crafted Print-Job answer: the release needs attention with a clear reason
/// (the job went out, the answer is unreadable), the server dropped the connection
/// after a bounded number of bytes, memory stayed put, and the delivery worker is
/// still alive for the next release.
async fn crafted_answer_is_refused(reply: JobReply, name: &str) {
    let w = world(Backend::Sqlite).await;
    let printer = HostilePrinter::start("127.0.0.1", reply, &[]);
    let row = w.printer(name, &printer.uri()).await;
    assert_eq!(row.state, "idle", "{row:?}");
    let before = rss();
    w.release(&row.guid).await;
    let releases = w.ended(1).await;
    let release = &releases[0];
    assert_eq!(
        release.state,
        printpark::release::ReleaseState::NeedsAttention,
        "{release:?}"
    );
    assert!(
        release.reason.contains("malformed") && release.reason.contains("bytes"),
        "the reason says what was wrong: {}",
        release.reason
    );
    dropped(&printer).await;
    let sent = printer.crafted_bytes();
    assert!(
        sent <= WIRE_CAP + SOCKET_SLACK,
        "the server read {sent} bytes of one answer"
    );
    let grown = rss().saturating_sub(before);
    eprintln!("{name}: the printer got {sent} bytes of its answer out; RSS grew by {grown} bytes");
    assert!(
        grown < 96 * 1024 * 1024,
        "memory grew by {grown} bytes reading one answer"
    );
    // Nothing panicked: the next release to a well-behaved printer prints.
    printer.set_reply(JobReply::Accept);
    w.release(&row.guid).await;
    let releases = w.ended(2).await;
    assert_eq!(
        releases[0].state,
        printpark::release::ReleaseState::Printed,
        "{:?}",
        releases[0]
    );
    w.server.stop().await;
}

#[tokio::test]
async fn a_chunk_size_near_usize_max_fails_the_release_cleanly_with_bounded_memory() {
    crafted_answer_is_refused(JobReply::HugeChunk, "Huge chunk").await;
}

#[tokio::test]
async fn endless_chunks_fail_the_release_cleanly_after_a_bounded_read() {
    crafted_answer_is_refused(JobReply::EndlessChunks, "Endless chunks").await;
}

#[tokio::test]
async fn a_printer_advertising_another_host_never_gets_deliveries_sent_there() {
    advertised_elsewhere(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_printer_advertising_another_host_never_gets_deliveries_sent_there_postgres() {
    advertised_elsewhere(Backend::Postgres).await;
}

/// Another host in printer-uri-supported: never connected to; shown to the admin,
/// who may confirm it (CSRF-checked, audited), after which releases go there.
async fn advertised_elsewhere(backend: Backend) {
    let w = world(backend).await;
    // The host the printer points at: it would take the job (over IPPS, so it would
    // also become the pinned certificate) and counts every connection.
    let elsewhere = HostilePrinter::start_tls("127.0.0.2", JobReply::Accept, &[]);
    let elsewhere_ipp = format!("ipp://127.0.0.2:{}/ipp/print", elsewhere.port());
    let printer = HostilePrinter::start(
        "127.0.0.1",
        JobReply::Accept,
        &[elsewhere.uri(), elsewhere_ipp.clone()],
    );
    let row = w.printer("Redirecting", &printer.uri()).await;
    assert!(row.uris_supported.contains("127.0.0.2"), "{row:?}");

    w.release(&row.guid).await;
    let releases = w.ended(1).await;
    assert_eq!(
        releases[0].state,
        printpark::release::ReleaseState::Printed,
        "{:?}",
        releases[0]
    );
    assert_eq!(
        elsewhere.connections(),
        0,
        "the server connected to the advertised host (operations {:?})",
        elsewhere.operations()
    );
    assert!(
        printer.operations().contains(&0x0002),
        "the job went to the configured host: {:?}",
        printer.operations()
    );
    let row = w.server.services.printers.by_id(row.id).await.unwrap();
    assert_eq!(row.uri, printer.uri());
    assert_eq!(row.tls_pin, None, "no certificate of another host pinned");

    // The admin sees the advertised address and may confirm it.
    let admin = w.server.client();
    let signed = login(&w.server, &admin, "boss", "correct horse battery").await;
    assert_eq!(signed.status(), 303);
    let path = format!("/admin/printers/{}", row.id);
    let page = get_text(&admin, w.server.url(&path)).await;
    assert!(
        page.contains("advertises addresses on another host"),
        "{page}"
    );
    assert!(page.contains(&elsewhere.uri()) && page.contains(&elsewhere_ipp));
    assert!(page.contains("Use this address"), "{page}");
    let action = w.server.url(&format!("{path}/use-address"));
    let current = printer.uri();
    // Without the form's CSRF token: refused, nothing changes.
    let forged = admin
        .post(&action)
        .form(&[
            ("csrf", "forged"),
            ("current", current.as_str()),
            ("address", elsewhere.uri().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_ne!(forged.status(), 303);
    // An address the printer did not advertise: refused.
    let csrf = csrf_of(&page);
    let other = admin
        .post(&action)
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", current.as_str()),
            ("address", "ipp://10.9.9.9/ipp/print"),
        ])
        .send()
        .await
        .unwrap();
    assert_ne!(other.status(), 303);
    let text = other.text().await.unwrap();
    assert!(text.contains("does not advertise that address"), "{text}");
    let unchanged = w.server.services.printers.by_id(row.id).await.unwrap();
    assert_eq!(unchanged.uri, printer.uri());

    let confirmed = admin
        .post(&action)
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", current.as_str()),
            ("address", elsewhere.uri().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 303);
    assert_eq!(
        confirmed.headers()["location"],
        format!("{path}?done=address").as_str()
    );
    let moved = w.server.services.printers.by_id(row.id).await.unwrap();
    assert_eq!(moved.uri, elsewhere.uri());
    let audit = w
        .server
        .services
        .db
        .audit_page(None, 100, Some("printer.use_advertised_uri"))
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(
        audit[0].detail.contains(&printer.uri()) && audit[0].detail.contains(&elsewhere.uri()),
        "{:?}",
        audit[0]
    );
    assert_eq!(elsewhere.connections(), 0, "confirming sends nothing yet");

    // Once confirmed, releases go there.
    w.release(&row.guid).await;
    let releases = w.ended(2).await;
    assert_eq!(
        releases[0].state,
        printpark::release::ReleaseState::Printed,
        "{:?}",
        releases[0]
    );
    assert!(elsewhere.operations().contains(&0x0002));
    w.server.stop().await;
}
