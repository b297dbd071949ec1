//! Release at the printer, end to end: a person proves who they are at a release
//! station or on their phone, and the held job reaches a real printer (ippeveprinter
//! over IPP and IPPS, a raw 9100 listener) byte for byte; broken printers keep the
//! jobs held; an interrupted delivery needs attention and is never sent twice.

use crate::support;

use std::io::Read;
use std::time::Duration;

use printpark::db::{ReleaseEnd, ReleaseItem, ReleaseRow};
use printpark::identity::{ClientInfo, User};
use printpark::jobs::{Compression, HeldJob, JobState, Submission};
use printpark::release::PrinterForm;
use support::printer::{FakeBehaviour, FakePrinter, FakeStatus, PrinterOptions, TestPrinter};
use support::{Backend, TestServer, csrf_of, get_text};

const PIN: &str = "482916";

struct World {
    server: TestServer,
    admin: User,
    ann: User,
}

async fn world(backend: Backend) -> World {
    let server = TestServer::start(backend).await;
    let client = ClientInfo::default();
    let identity = &server.services.identity;
    let admin = support::create_admin(identity).await;
    let ann = support::create_user(&server, "ann", "ann's long password").await;
    identity
        .set_own_pin(&ann, "ann's long password", PIN, &client)
        .await
        .unwrap();
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

    async fn park(&self, owner: &User, name: &str, bytes: &[u8]) -> HeldJob {
        self.server
            .services
            .jobs
            .park(
                owner,
                &Submission {
                    name,
                    format: "application/pdf",
                    copies: 1,
                    sides: printpark::jobs::Sides::OneSided,
                    source: "portal",
                    compression: Compression::None,
                    color_mode: printpark::jobs::ColorMode::Auto,
                    accept: None,
                    page_ranges: None,
                },
                &mut &bytes[..],
                &ClientInfo::default(),
            )
            .await
            .unwrap()
    }

    /// Signs in at the printer's station with login + PIN; returns the browser.
    async fn at_station(
        &self,
        guid: &str,
        login: &str,
        pin: &str,
    ) -> (reqwest::Client, reqwest::Response) {
        let browser = self.server.client();
        let page = get_text(&browser, self.server.url(&format!("/station/{guid}"))).await;
        let response = browser
            .post(self.server.url(&format!("/station/{guid}/pin")))
            .form(&[
                ("csrf", csrf_of(&page).as_str()),
                ("login", login),
                ("pin", pin),
            ])
            .send()
            .await
            .unwrap();
        (browser, response)
    }

    /// Presses a station button; returns the response.
    async fn press(
        &self,
        browser: &reqwest::Client,
        guid: &str,
        step: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let page = get_text(browser, self.server.url(&format!("/station/{guid}"))).await;
        let csrf = csrf_of(&page);
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(extra);
        browser
            .post(self.server.url(&format!("/station/{guid}/{step}")))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Waits until every release of `user` has ended; returns them, newest first.
    async fn ended_releases(&self, user: &User, count: usize) -> Vec<ReleaseRow> {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            let rows = self
                .server
                .services
                .db
                .releases_of_user(user.id, 0)
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
                std::time::Instant::now() < deadline,
                "releases did not end: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn job(&self, owner: &User, id: i64) -> HeldJob {
        self.server.services.jobs.job_of(owner, id).await.unwrap()
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(support::fixture_path(name)).unwrap()
}

/// A document of `size` bytes that starts like a PDF (printers only see bytes).
fn big_pdf(size: usize) -> Vec<u8> {
    let mut doc = b"%PDF-1.4\n".to_vec();
    let mut x: u32 = 7;
    while doc.len() < size {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        doc.push((x >> 16) as u8);
    }
    doc
}

#[tokio::test]
async fn station_pin_release_prints_the_exact_bytes_on_an_ipp_printer_and_purges_the_document() {
    let w = world(Backend::Sqlite).await;
    let printer = TestPrinter::start(PrinterOptions::named("hall")).await;
    let row = w.printer("Hall", &printer.uri()).await;
    assert_eq!(row.state, "idle", "{row:?}");
    assert!(row.formats.contains("application/pdf"));
    let doc = fixture("document-a4.pdf");
    let job = w.park(&w.ann, "report.pdf", &doc).await;

    let (browser, signed_in) = w.at_station(&row.guid, "ann@example.org", PIN).await;
    assert_eq!(signed_in.status(), 303);
    let page = get_text(&browser, w.server.url(&format!("/station/{}", row.guid))).await;
    assert!(page.contains("Print all: 1 document"), "{page}");
    let pressed = w.press(&browser, &row.guid, "print-all", &[]).await;
    assert_eq!(pressed.status(), 303);

    let releases = w.ended_releases(&w.ann, 1).await;
    assert_eq!(
        releases[0].state,
        printpark::release::ReleaseState::Printed,
        "{:?}",
        releases[0]
    );
    assert_eq!(releases[0].via, "station");
    let spooled = printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!(spooled.len(), 1);
    let files = printer.spooled_files();
    assert_eq!(files.len(), 1, "exactly one copy printed");
    assert_eq!(
        files[0].bytes(),
        doc,
        "the printer got the very bytes printed"
    );

    let after = w.job(&w.ann, job.id).await;
    assert_eq!(after.state, JobState::Printed);
    let (_, blobs) = w.server.services.jobs.for_delivery(job.id).await.unwrap();
    assert!(blobs.is_empty(), "the document is purged after printing");
    // The progress page signs the station out once nothing is on its way.
    let done = get_text(
        &browser,
        w.server
            .url(&format!("/station/{}?view=printing", row.guid)),
    )
    .await;
    assert!(
        done.contains("1 document(s) printed. You are signed out."),
        "{done}"
    );
    let audit = w
        .server
        .services
        .db
        .audit_page(None, 100, None)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "station.pin" && e.outcome == "success")
    );
    assert!(audit.iter().any(|e| e.action == "release.printed"));
    w.server.stop().await;
}

#[tokio::test]
async fn phone_release_over_ipps_pins_the_certificate_and_prints_the_exact_bytes() {
    let w = world(Backend::Sqlite).await;
    let printer = TestPrinter::start(PrinterOptions::named("lobby")).await;
    let row = w.printer("Lobby", &printer.ipps_uri()).await;
    assert!(
        row.tls_pin.as_deref().is_some_and(|p| p.len() == 64),
        "pinned on first contact: {row:?}"
    );
    let doc = fixture("document-a4.pdf");
    w.park(&w.ann, "phone.pdf", &doc).await;

    let phone = w.server.client();
    let page = get_text(&phone, w.server.url(&format!("/r/{}", row.guid))).await;
    assert!(page.contains("Sign in to print here"), "{page}");
    let signed = phone
        .post(w.server.url(&format!("/r/{}/login", row.guid)))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("login", "ann"),
            ("password", "ann's long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let cookie = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("pp_device="))
        .unwrap();
    assert!(
        cookie.contains("Max-Age=") && cookie.contains("Path=/r"),
        "a long-lived cookie for the QR pages only: {cookie}"
    );
    let page = get_text(&phone, w.server.url(&format!("/r/{}", row.guid))).await;
    assert!(page.contains("Waiting: 1 document"), "{page}");
    // The phone's session does not open the portal.
    let portal = phone.get(w.server.url("/portal")).send().await.unwrap();
    assert_eq!(portal.status(), 303, "redirected to sign in");
    let pressed = phone
        .post(w.server.url(&format!("/r/{}/print-all", row.guid)))
        .form(&[("csrf", csrf_of(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(pressed.status(), 303);
    let releases = w.ended_releases(&w.ann, 1).await;
    assert_eq!(
        releases[0].state,
        printpark::release::ReleaseState::Printed,
        "{:?}",
        releases[0]
    );
    assert_eq!(releases[0].protocol, "ipps");
    printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!(printer.spooled_files()[0].bytes(), doc);
    w.server.stop().await;
}

#[tokio::test]
async fn a_raw_9100_printer_receives_the_exact_bytes() {
    let w = world(Backend::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            socket.read_to_end(&mut got).await.unwrap();
            // The state check only connects; the job is the connection with bytes.
            if !got.is_empty() {
                return got;
            }
        }
    });
    let row = w
        .printer("Basement", &format!("socket://127.0.0.1:{port}"))
        .await;
    assert_eq!(row.state, "idle");
    let doc = big_pdf(300_000);
    w.park(&w.ann, "raw.pdf", &doc).await;
    let (browser, _) = w.at_station(&row.guid, "ann", PIN).await;
    assert_eq!(
        w.press(&browser, &row.guid, "print-all", &[])
            .await
            .status(),
        303
    );
    let got = tokio::time::timeout(Duration::from_secs(30), received)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), doc.len());
    assert!(got == doc, "the raw port got the very bytes");
    let releases = w.ended_releases(&w.ann, 1).await;
    assert_eq!(releases[0].state, printpark::release::ReleaseState::Printed);
    assert_eq!(releases[0].protocol, "raw");
    w.server.stop().await;
}

#[tokio::test]
async fn an_unreachable_printer_refuses_the_release_at_once_and_the_job_stays_held() {
    let w = world(Backend::Sqlite).await;
    let row = w
        .printer("Gone", &support::printer::unreachable_uri())
        .await;
    assert_eq!(row.state, "unreachable");
    let job = w.park(&w.ann, "held.pdf", b"%PDF-1.4 hello").await;
    let (browser, _) = w.at_station(&row.guid, "ann", PIN).await;
    let answer = w.press(&browser, &row.guid, "print-all", &[]).await;
    assert_eq!(answer.status(), 200, "told at once, on the same page");
    let page = answer.text().await.unwrap();
    assert!(
        page.contains("does not answer") && page.contains("stay held"),
        "{page}"
    );
    assert_eq!(w.job(&w.ann, job.id).await.state, JobState::Held);
    assert!(
        w.server
            .services
            .db
            .releases_of_user(w.ann.id, 0)
            .await
            .unwrap()
            .is_empty()
    );
    w.server.stop().await;
}

#[tokio::test]
async fn a_printer_out_of_paper_or_jammed_is_sent_nothing_and_the_job_stays_held() {
    let w = world(Backend::Sqlite).await;
    let printer = TestPrinter::start(PrinterOptions::named("paperless")).await;
    let empty = w.printer("Paperless", &printer.uri()).await;
    printer.empty_media().await;
    let jammed_fake = FakePrinter::start(FakeBehaviour::Answer(FakeStatus::stopped(&[
        "media-jam-error",
    ])));
    let jammed = w.printer("Jammed", &jammed_fake.uri()).await;
    let job = w.park(&w.ann, "held.pdf", b"%PDF-1.4 hello").await;

    let (browser, _) = w.at_station(&empty.guid, "ann", PIN).await;
    let page = w
        .press(&browser, &empty.guid, "print-all", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("out of paper"), "{page}");
    let phone = w.server.client();
    let login = get_text(&phone, w.server.url(&format!("/r/{}", jammed.guid))).await;
    phone
        .post(w.server.url(&format!("/r/{}/login", jammed.guid)))
        .form(&[
            ("csrf", csrf_of(&login).as_str()),
            ("login", "ann"),
            ("password", "ann's long password"),
        ])
        .send()
        .await
        .unwrap();
    let page = get_text(&phone, w.server.url(&format!("/r/{}", jammed.guid))).await;
    let answer = phone
        .post(w.server.url(&format!("/r/{}/print-all", jammed.guid)))
        .form(&[("csrf", csrf_of(&page).as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(answer.to_lowercase().contains("jam"), "{answer}");
    assert_eq!(w.job(&w.ann, job.id).await.state, JobState::Held);
    assert!(
        !jammed_fake.operations().contains(&0x0002),
        "no Print-Job reached the jammed printer"
    );
    assert!(printer.spooled_files().is_empty());
    let audit = w
        .server
        .services
        .db
        .audit_page(None, 100, Some("release.refused"))
        .await
        .unwrap();
    assert_eq!(audit.len(), 2, "both refusals audited");
    w.server.stop().await;
}

#[tokio::test]
async fn a_printer_that_hangs_up_mid_job_leaves_it_needing_attention_and_never_sends_it_twice() {
    let w = world(Backend::Sqlite).await;
    let fake = FakePrinter::start(FakeBehaviour::HangUpOnJob {
        status: FakeStatus::idle(),
        after: 200_000,
    });
    let row = w.printer("Flaky", &fake.uri()).await;
    let job = w.park(&w.ann, "big.pdf", &big_pdf(3_000_000)).await;
    let (browser, _) = w.at_station(&row.guid, "ann", PIN).await;
    assert_eq!(
        w.press(&browser, &row.guid, "print-all", &[])
            .await
            .status(),
        303
    );
    let releases = w.ended_releases(&w.ann, 1).await;
    let release = &releases[0];
    assert_eq!(
        release.state,
        printpark::release::ReleaseState::NeedsAttention,
        "{release:?}"
    );
    assert!(
        release.reason.contains("after"),
        "the reason says how far it got: {}",
        release.reason
    );
    assert_eq!(w.job(&w.ann, job.id).await.state, JobState::NeedsAttention);
    // Nothing sends it again by itself: a worker sends only what it claimed, a claim
    // counts an attempt, and a release that needs attention is claimed by nobody.
    let release = &w
        .server
        .services
        .db
        .release_by_id(release.id)
        .await
        .unwrap();
    assert_eq!(
        (release.state.as_str(), release.attempts),
        ("needs-attention", 1),
        "{release:?}"
    );
    let print_jobs = fake.operations().iter().filter(|op| **op == 0x0002).count();
    assert_eq!(
        print_jobs,
        1,
        "exactly one Print-Job: {:?}",
        fake.operations()
    );
    // The admin sees it, and may send it again once they know it did not print.
    let problems = w.server.services.release.problems(&w.admin).await.unwrap();
    assert!(problems.iter().any(|p| p.id == release.id));
    fake.set_behaviour(FakeBehaviour::Answer(FakeStatus::idle()));
    let again = w
        .server
        .services
        .release
        .retry(&w.admin, release.id, &ClientInfo::default())
        .await
        .unwrap();
    assert_ne!(again, release.id);
    w.server.stop().await;
}

#[tokio::test]
async fn a_printer_that_refuses_the_format_fails_the_release_and_holds_the_job_again() {
    let w = world(Backend::Sqlite).await;
    let printer =
        TestPrinter::start(PrinterOptions::named("foreign").formats(&["application/x-foreign"]))
            .await;
    // A printer taking PWG raster gets a conversion (tests/all/convert_push.rs); one
    // taking nothing PrintPark can make refuses.
    let row = w.printer("Foreign only", &printer.uri()).await;
    let job = w.park(&w.ann, "doc.pdf", &fixture("document-a4.pdf")).await;
    let (browser, _) = w.at_station(&row.guid, "ann", PIN).await;
    assert_eq!(
        w.press(&browser, &row.guid, "print-all", &[])
            .await
            .status(),
        303
    );
    let releases = w.ended_releases(&w.ann, 1).await;
    assert_eq!(releases[0].state, printpark::release::ReleaseState::Failed);
    assert!(
        releases[0]
            .reason
            .contains("none of the formats PrintPark can make"),
        "{}",
        releases[0].reason
    );
    assert_eq!(w.job(&w.ann, job.id).await.state, JobState::Held);
    assert!(printer.spooled_files().is_empty());
    w.server.stop().await;
}

#[tokio::test]
async fn nobody_can_release_another_users_job_by_any_path() {
    let w = world(Backend::Sqlite).await;
    let printer = TestPrinter::start(PrinterOptions::named("shared")).await;
    let row = w.printer("Shared", &printer.uri()).await;
    let anns = w.park(&w.ann, "ann-only.pdf", b"%PDF-1.4 ann").await;
    let bob = support::create_user(&w.server, "bob", "bob's long password").await;
    w.server
        .services
        .identity
        .set_own_pin(
            &bob,
            "bob's long password",
            "135790",
            &ClientInfo::default(),
        )
        .await
        .unwrap();

    // The service itself: another user's job is "not found".
    let direct = w
        .server
        .services
        .release
        .release(
            &bob,
            &row.guid,
            &[printpark::release::JobChoice {
                job_id: anns.id,
                ..Default::default()
            }],
            printpark::release::ReleaseVia::Station,
            &ClientInfo::default(),
        )
        .await;
    assert!(
        matches!(
            direct,
            Err(printpark::release::ReleaseError::Job(
                printpark::jobs::JobError::NotFound
            ))
        ),
        "{direct:?}"
    );
    // Station: Bob picks Ann's job id by hand, and presses Print all.
    let (browser, _) = w.at_station(&row.guid, "bob", "135790").await;
    let picked = w
        .press(
            &browser,
            &row.guid,
            "release",
            &[("pick", &anns.id.to_string()), ("action", "print")],
        )
        .await;
    let picked = picked.text().await.unwrap();
    assert!(picked.contains("Not found."), "{picked}");
    let all = w
        .press(&browser, &row.guid, "print-all", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(all.contains("no held documents"), "{all}");
    let deleted = w
        .press(
            &browser,
            &row.guid,
            "release",
            &[("pick", &anns.id.to_string()), ("action", "delete")],
        )
        .await;
    assert_eq!(deleted.status(), 404);
    // Phone: Bob's one tap releases only Bob's (none).
    let phone = w.server.client();
    let login = get_text(&phone, w.server.url(&format!("/r/{}", row.guid))).await;
    phone
        .post(w.server.url(&format!("/r/{}/login", row.guid)))
        .form(&[
            ("csrf", csrf_of(&login).as_str()),
            ("login", "bob"),
            ("password", "bob's long password"),
        ])
        .send()
        .await
        .unwrap();
    let page = get_text(&phone, w.server.url(&format!("/r/{}", row.guid))).await;
    assert!(page.contains("no documents waiting"), "{page}");
    let tap = phone
        .post(w.server.url(&format!("/r/{}/print-all", row.guid)))
        .form(&[("csrf", csrf_of(&page).as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(tap.contains("no held documents"), "{tap}");
    assert_eq!(w.job(&w.ann, anns.id).await.state, JobState::Held);
    assert!(
        w.server
            .services
            .db
            .releases_of_user(bob.id, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(printer.spooled_files().is_empty());
    w.server.stop().await;
}

#[tokio::test]
async fn wrong_pins_at_a_station_lock_the_account_and_are_audited_with_the_printer() {
    let w = world(Backend::Sqlite).await;
    let row = w
        .printer("Front desk", &support::printer::unreachable_uri())
        .await;
    let threshold = w.server.services.settings.security.lockout_threshold;
    for _ in 0..threshold {
        let (_, answer) = w.at_station(&row.guid, "ann", "000000").await;
        assert_eq!(
            answer.status(),
            200,
            "the station page again, with the error"
        );
        let page = answer.text().await.unwrap();
        assert!(page.contains("class=\"error\""), "{page}");
    }
    let (_, answer) = w.at_station(&row.guid, "ann", PIN).await;
    let page = answer.text().await.unwrap();
    assert!(
        page.contains("Too many failed attempts"),
        "locked even with the right PIN: {page}"
    );
    let audit = w
        .server
        .services
        .db
        .audit_page(None, 100, Some("station.pin"))
        .await
        .unwrap();
    let failures: Vec<_> = audit.iter().filter(|e| e.outcome == "failure").collect();
    assert_eq!(failures.len(), threshold as usize);
    assert!(
        failures.iter().all(|e| e.detail.contains("Front desk")),
        "{failures:?}"
    );
    assert!(audit.iter().any(|e| e.outcome == "denied"));
    // The PIN itself never reaches the audit log.
    assert!(
        audit
            .iter()
            .all(|e| !e.detail.contains(PIN) && !e.detail.contains("000000"))
    );
    w.server.stop().await;
}

#[tokio::test]
async fn a_badge_is_linked_once_with_a_pin_then_signs_in_alone_and_is_stored_only_as_a_keyed_hash()
{
    let w = world(Backend::Sqlite).await;
    let row = w
        .printer("Badge door", &support::printer::unreachable_uri())
        .await;
    let badge = "0004815162342";
    let station = w.server.client();
    let page = get_text(&station, w.server.url(&format!("/station/{}", row.guid))).await;
    let unknown = station
        .post(w.server.url(&format!("/station/{}/badge", row.guid)))
        .form(&[("csrf", csrf_of(&page).as_str()), ("badge", badge)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(unknown.contains("Link this badge"), "{unknown}");
    assert!(
        !unknown.contains(badge),
        "the page does not echo the badge number"
    );
    let linked = station
        .post(w.server.url(&format!("/station/{}/link", row.guid)))
        .form(&[
            ("csrf", csrf_of(&unknown).as_str()),
            ("login", "ann"),
            ("pin", PIN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 303);
    let page = get_text(&station, w.server.url(&format!("/station/{}", row.guid))).await;
    assert!(page.contains("Hello ann"), "{page}");
    w.press(&station, &row.guid, "logout", &[]).await;
    // Next time the badge alone signs in.
    let kiosk = w.server.client();
    let page = get_text(&kiosk, w.server.url(&format!("/station/{}", row.guid))).await;
    let swiped = kiosk
        .post(w.server.url(&format!("/station/{}/badge", row.guid)))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("badge", " 0004815162342\n"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(swiped.status(), 303);
    let page = get_text(&kiosk, w.server.url(&format!("/station/{}", row.guid))).await;
    assert!(page.contains("Hello ann"), "{page}");
    // Stored as a 32-byte keyed hash, nowhere in clear.
    let db_file = w.server.dir.path().join("printpark.db");
    let mut bytes = Vec::new();
    if let Ok(mut f) = std::fs::File::open(&db_file) {
        f.read_to_end(&mut bytes).unwrap();
    }
    for file in support::files_under(w.server.dir.path()) {
        let content = std::fs::read(&file).unwrap_or_default();
        assert!(
            !content
                .windows(badge.len())
                .any(|win| win == badge.as_bytes()),
            "badge number in clear in {}",
            file.display()
        );
    }
    assert_eq!(
        w.server
            .services
            .identity
            .badge_count(&w.ann)
            .await
            .unwrap(),
        1
    );
    w.server.stop().await;
}

#[tokio::test]
async fn two_servers_on_one_postgres_deliver_each_release_exactly_once() {
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
    let admin = support::create_admin(&one.services.identity).await;
    let w = World {
        admin: admin.clone(),
        ann: support::create_user(&one, "ann", "ann's long password").await,
        server: one,
    };
    let printer = TestPrinter::start(PrinterOptions::named("busy")).await;
    let row = w
        .server
        .services
        .printers
        .add(
            &admin,
            &PrinterForm {
                name: "Busy".into(),
                uri: printer.uri(),
                ..Default::default()
            },
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    let mut docs = Vec::new();
    for n in 0..4 {
        let doc = format!("%PDF-1.4\n% document {n}\n").into_bytes();
        w.park(&w.ann, &format!("doc-{n}.pdf"), &doc).await;
        docs.push(doc);
    }
    // Both servers' workers race for the same queue.
    let ids = w
        .server
        .services
        .release
        .release_all(
            &w.ann,
            &row.guid,
            printpark::release::ReleaseVia::Phone,
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    two.services.release.wake();
    assert_eq!(ids.len(), 4);
    let releases = w.ended_releases(&w.ann, 4).await;
    assert!(
        releases
            .iter()
            .all(|r| r.state == printpark::release::ReleaseState::Printed),
        "{releases:?}"
    );
    printer.wait_for_jobs_done(4, Duration::from_secs(60)).await;
    let mut got: Vec<Vec<u8>> = printer.spooled_files().iter().map(|f| f.bytes()).collect();
    got.sort();
    docs.sort();
    assert_eq!(got, docs, "every document printed exactly once");
    two.stop().await;
    w.server.stop().await;
}

#[tokio::test]
async fn a_lease_that_runs_out_mid_send_needs_attention_while_one_that_sent_nothing_is_queued_again()
 {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let dir = tempfile::tempdir().unwrap();
        let db = support::database(backend, dir.path()).await;
        let owner = db
            .insert_user(&printpark::db::NewUser {
                username: "ann",
                email: "ann@example.org",
                name: "",
                department: "",
                role: "user",
                password_hash: None,
            })
            .await
            .unwrap();
        let printer = db
            .insert_printer(
                "guid-1",
                &printpark::db::PrinterFields {
                    name: "P",
                    location: "",
                    uri: "ipp://127.0.0.1:1/ipp/print",
                    protocol: "auto",
                    cost_mono_milli: None,
                    cost_color_milli: None,
                },
            )
            .await
            .unwrap();
        let mut jobs = Vec::new();
        for n in 0..2 {
            let uuid = format!("job-{n}");
            let job = db
                .insert_job(&printpark::db::NewJob {
                    uuid: &uuid,
                    owner_id: owner.id,
                    name: "doc",
                    format: "application/pdf",
                    pages: Some(1),
                    color: Some(false),
                    color_mode: "auto",
                    copies: 1,
                    sides: "one-sided",
                    size_bytes: 10,
                    source: "portal",
                    client_addr: "",
                    state: "held",
                    blob_id: None,
                    submitted_at: 0,
                    expires_at: i64::MAX / 2,
                    analysis_note: None,
                    page_ranges: None,
                })
                .await
                .unwrap();
            jobs.push(job.id);
        }
        let item = |job_id| ReleaseItem {
            job_id,
            copies: 1,
            sides: "one-sided".into(),
            color_mode: "auto".into(),
        };
        let ids = db
            .create_releases(
                owner.id,
                printer.id,
                "station",
                &[item(jobs[0]), item(jobs[1])],
            )
            .await
            .unwrap();
        assert_eq!(ids.len(), 2);
        // A second release of a job already on its way is refused.
        assert!(
            db.create_releases(owner.id, printer.id, "station", &[item(jobs[0])])
                .await
                .unwrap()
                .is_empty()
        );
        // A dead worker took the first one and had started sending it.
        let first = db.claim_release("dead", -1).await.unwrap().unwrap();
        db.mark_transmitting(first.id, "dead", "ipp").await.unwrap();
        // The second one is not taken while the printer is "busy" with the first.
        assert!(
            db.claim_release("other", 60).await.unwrap().is_none(),
            "{backend:?}: one job at a time per printer"
        );
        let unknown = db.expire_release_leases().await.unwrap();
        assert_eq!(unknown, vec![first.id]);
        let first = db.release_by_id(first.id).await.unwrap();
        assert_eq!(
            first.state,
            printpark::release::ReleaseState::NeedsAttention
        );
        assert_eq!(
            db.job_by_id(jobs[0]).await.unwrap().state,
            "needs-attention"
        );
        // Another dead worker took the second one but never sent a byte: queued again.
        let second = db.claim_release("dead-too", -1).await.unwrap().unwrap();
        assert_eq!(second.job_id, jobs[1]);
        assert!(db.expire_release_leases().await.unwrap().is_empty());
        assert_eq!(
            db.release_by_id(second.id).await.unwrap().state,
            printpark::release::ReleaseState::Queued
        );
        let again = db.claim_release("alive", 60).await.unwrap().unwrap();
        assert_eq!(again.id, second.id);
        db.finish_release(again.id, Some("alive"), ReleaseEnd::Printed, "")
            .await
            .unwrap();
        assert_eq!(db.job_by_id(jobs[1]).await.unwrap().state, "printed");
        // Only the lease holder may end it.
        assert!(
            db.finish_release(first.id, Some("alive"), ReleaseEnd::Printed, "")
                .await
                .is_err()
        );
        db.close().await;
    }
}

#[tokio::test]
async fn a_personal_passcode_signs_in_alone_and_wrong_ones_lock_the_station() {
    let w = world(Backend::Sqlite).await;
    let row = w
        .printer("Passcode desk", &support::printer::unreachable_uri())
        .await;
    let passcode = w
        .server
        .services
        .identity
        .new_passcode(&w.ann, &ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(passcode.len(), 8);
    assert!(
        w.server
            .services
            .identity
            .has_passcode(&w.ann)
            .await
            .unwrap()
    );
    let station = w.server.client();
    let enter = |code: String| {
        let station = station.clone();
        let w = &w;
        let guid = row.guid.clone();
        async move {
            let page = get_text(&station, w.server.url(&format!("/station/{guid}"))).await;
            station
                .post(w.server.url(&format!("/station/{guid}/passcode")))
                .form(&[
                    ("csrf", csrf_of(&page).as_str()),
                    ("passcode", code.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let ok = enter(passcode.clone()).await;
    assert_eq!(ok.status(), 303, "the passcode alone signs in");
    let page = get_text(&station, w.server.url(&format!("/station/{}", row.guid))).await;
    assert!(page.contains("Hello ann"), "{page}");
    w.press(&station, &row.guid, "logout", &[]).await;
    // Guessing passcodes locks the station after the threshold, even for a right one.
    let wrong = if passcode == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let threshold = w.server.services.settings.security.lockout_threshold;
    for _ in 0..threshold {
        assert_eq!(enter(wrong.into()).await.status(), 200);
    }
    let locked = enter(passcode.clone()).await.text().await.unwrap();
    assert!(locked.contains("Too many failed attempts"), "{locked}");
    let audit = w
        .server
        .services
        .db
        .audit_page(None, 100, Some("station.passcode"))
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .filter(|e| e.outcome == "failure")
            .all(|e| e.detail.contains("Passcode desk"))
    );
    assert!(audit.iter().all(|e| !e.detail.contains(&passcode)));
    // Stored only as a keyed hash.
    let row = w.server.services.db.user_by_id(w.ann.id).await.unwrap();
    assert!(format!("{row:?}").find(&passcode).is_none());
    w.server.stop().await;
}

#[tokio::test]
async fn at_the_station_a_job_can_be_made_cheaper_but_never_costlier_before_printing() {
    let w = world(Backend::Sqlite).await;
    let printer = TestPrinter::start(PrinterOptions::named("review").color().duplex()).await;
    let row = w.printer("Review", &printer.uri()).await;
    let job = w
        .server
        .services
        .jobs
        .park(
            &w.ann,
            &Submission {
                name: "colour-twice.pdf",
                format: "application/pdf",
                copies: 2,
                sides: printpark::jobs::Sides::OneSided,
                source: "portal",
                compression: Compression::None,
                color_mode: printpark::jobs::ColorMode::Color,
                accept: None,
                page_ranges: None,
            },
            &mut &fixture("document-a4.pdf")[..],
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    let (browser, _) = w.at_station(&row.guid, "ann", PIN).await;
    let review = get_text(
        &browser,
        w.server.url(&format!("/station/{}?view=review", row.guid)),
    )
    .await;
    assert!(
        review.contains("colour-twice.pdf")
            && review.contains(&format!("name=\"mono-{}\"", job.id)),
        "{review}"
    );
    let id = job.id.to_string();
    // More copies than submitted is refused, and nothing is released.
    let copies_field = format!("copies-{id}");
    let more = w
        .press(
            &browser,
            &row.guid,
            "release",
            &[("pick", &id), (&copies_field, "3"), ("action", "print")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        more.contains("more can only be printed by printing it again"),
        "{more}"
    );
    assert_eq!(w.job(&w.ann, job.id).await.state, JobState::Held);
    // Mono, two-sided and one copy instead of two.
    let mono_field = format!("mono-{id}");
    let duplex_field = format!("duplex-{id}");
    let pressed = w
        .press(
            &browser,
            &row.guid,
            "release",
            &[
                ("pick", &id),
                (&copies_field, "1"),
                (&mono_field, "on"),
                (&duplex_field, "on"),
                ("action", "print"),
            ],
        )
        .await;
    assert_eq!(pressed.status(), 303);
    let releases = w.ended_releases(&w.ann, 1).await;
    let r = &releases[0];
    assert_eq!(
        (
            r.state.as_str(),
            r.copies,
            r.sides.as_str(),
            r.color_mode.as_str()
        ),
        ("printed", 1, "two-sided-long-edge", "monochrome"),
        "{r:?}"
    );
    let templates = printer.job_templates().await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    let (_, copies, sides, color) = &templates[0];
    assert!(copies.is_empty() || copies == "1", "{templates:?}");
    assert_eq!(sides, "two-sided-long-edge");
    assert_eq!(color, "monochrome");
    w.server.stop().await;
}

#[tokio::test]
async fn a_printer_added_by_its_ipp_uri_is_reached_over_ipps_and_its_certificate_pinned() {
    let w = world(Backend::Sqlite).await;
    let printer = TestPrinter::start(PrinterOptions::named("upgrade")).await;
    let row = w.printer("Upgrade", &printer.uri()).await;
    assert!(row.tls_pin.is_none(), "nothing to pin over plain IPP");
    assert!(row.uris_supported.contains("ipps://"), "{row:?}");
    let doc = fixture("document-a4.pdf");
    w.park(&w.ann, "upgrade.pdf", &doc).await;
    let (browser, _) = w.at_station(&row.guid, "ann", PIN).await;
    assert_eq!(
        w.press(&browser, &row.guid, "print-all", &[])
            .await
            .status(),
        303
    );
    let releases = w.ended_releases(&w.ann, 1).await;
    assert_eq!(
        (releases[0].state.as_str(), releases[0].protocol.as_str()),
        ("printed", "ipps"),
        "{:?}",
        releases[0]
    );
    let after = w.server.services.printers.by_id(row.id).await.unwrap();
    assert!(
        after.tls_pin.as_deref().is_some_and(|p| p.len() == 64),
        "pinned on the first TLS delivery"
    );
    printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!(printer.spooled_files()[0].bytes(), doc);
    w.server.stop().await;
}
