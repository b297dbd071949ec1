//! The web flows in a real browser (headless chromium): first run, admin creates a
//! user, the user signs in on a phone-sized screen and sees their (empty) portal.

use crate::support;

use std::time::Duration;

use printpark::identity::{ClientInfo, User};
use printpark::jobs::{Compression, Submission};
use printpark::release::PrinterForm;
use support::browser::Browser;
use support::printer::{PrinterOptions, TestPrinter};
use support::{Backend, TestServer};

#[tokio::test]
async fn a_new_admin_sets_up_the_server_and_a_user_signs_in_on_a_phone() {
    let server = TestServer::start(Backend::Sqlite).await;
    let desktop = Browser::start(1280, 900).await;

    desktop.goto(&server.url("/")).await;
    desktop.wait_for_path("/setup").await;
    let key = desktop.text_of("#master-key").await;
    assert_eq!(
        key,
        std::fs::read_to_string(server.services.settings.master_key_path())
            .unwrap()
            .trim()
    );
    desktop.screenshot("first-run").await;
    desktop
        .fill(
            "input[name=setup_code]",
            &support::doors::setup_code(&server),
        )
        .await;
    desktop.fill("input[name=name]", "Ada Admin").await;
    desktop.fill("input[name=username]", "ada").await;
    desktop.fill("input[name=email]", "ada@example.org").await;
    desktop
        .fill("input[name=password]", "correct horse battery")
        .await;
    desktop
        .fill("input[name=password_again]", "correct horse battery")
        .await;
    desktop.click("input[name=key_saved]").await;
    desktop
        .click("form[action='/setup'] button[type=submit]")
        .await;
    desktop.wait_for_path("/admin").await;
    desktop.wait_for_text("Recent activity").await;
    desktop.screenshot("admin-dashboard").await;

    desktop.goto(&server.url("/admin/users")).await;
    desktop
        .fill("form[action='/admin/users'] input[name=username]", "bob")
        .await;
    desktop
        .fill(
            "form[action='/admin/users'] input[name=email]",
            "bob@example.org",
        )
        .await;
    desktop
        .fill(
            "form[action='/admin/users'] input[name=name]",
            "Bob Builder",
        )
        .await;
    desktop
        .fill(
            "form[action='/admin/users'] input[name=password]",
            "bobs long password",
        )
        .await;
    desktop
        .click("form[action='/admin/users'] button[type=submit]")
        .await;
    desktop.wait_for_text("User bob created.").await;
    desktop.screenshot("admin-users").await;
    desktop.goto(&server.url("/admin/audit")).await;
    desktop.wait_for_text("user.create").await;
    desktop.screenshot("admin-audit").await;
    desktop.close().await;

    let phone = Browser::start(390, 844).await;
    phone.goto(&server.url("/portal")).await;
    phone.wait_for_path("/login").await;
    phone.fill("input[name=login]", "bob@example.org").await;
    phone
        .fill("input[name=password]", "bobs long password")
        .await;
    phone
        .click("form[action='/login'] button[type=submit]")
        .await;
    phone.wait_for_path("/portal").await;
    phone
        .wait_for_text("No documents are waiting for you.")
        .await;
    phone.screenshot("portal-phone").await;
    phone.goto(&server.url("/portal/account")).await;
    phone
        .fill(
            "form[action='/portal/account/app-passwords'] input[name=label]",
            "Bob's phone",
        )
        .await;
    phone
        .click("form[action='/portal/account/app-passwords'] button[type=submit]")
        .await;
    phone.wait_for_text("new-app-password").await;
    let secret = phone.text_of("#new-app-password").await;
    assert!(secret.starts_with("pp-"), "{secret}");
    phone.screenshot("account-phone").await;
    phone
        .click("form[action='/logout'] button[type=submit]")
        .await;
    phone.wait_for_path("/login").await;
    phone.close().await;
    server.stop().await;
}

/// A server with an admin, a user `ann` (PIN 482916) who parked the A4 fixture PDF,
/// and a real printer registered under `name`.
async fn release_world(name: &str) -> (TestServer, TestPrinter, String, Vec<u8>) {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = ClientInfo::default();
    let identity = &server.services.identity;
    let admin = support::create_admin(identity).await;
    let ann: User = support::create_user(&server, "ann", "ann's long password").await;
    identity
        .set_own_pin(&ann, "ann's long password", "482916", &client)
        .await
        .unwrap();
    let document = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();
    server
        .services
        .jobs
        .park(
            &ann,
            &Submission {
                name: "quarterly.pdf",
                format: "application/pdf",
                copies: 1,
                sides: printpark::jobs::Sides::OneSided,
                source: "portal",
                compression: Compression::None,
                color_mode: printpark::jobs::ColorMode::Auto,
                accept: None,
                page_ranges: None,
            },
            &mut &document[..],
            &client,
        )
        .await
        .unwrap();
    let printer = TestPrinter::start(PrinterOptions::named(name)).await;
    let row = server
        .services
        .printers
        .add(
            &admin,
            &PrinterForm {
                name: name.into(),
                location: "2nd floor".into(),
                uri: printer.ipps_uri(),
                ..Default::default()
            },
            &client,
        )
        .await
        .unwrap();
    (server, printer, row.guid, document)
}

#[tokio::test]
async fn at_the_station_a_new_badge_is_linked_with_a_pin_and_print_all_prints_the_job() {
    let (server, printer, guid, document) = release_world("Copier").await;
    let tablet = Browser::start(1024, 768).await;
    tablet.goto(&server.url(&format!("/station/{guid}"))).await;
    tablet.wait_for_text("Hold your badge to the reader").await;
    tablet.screenshot("station-signin").await;
    // A card reader types the number and Enter.
    tablet.fill("#badge", "0004815162342\u{E007}").await;
    tablet.wait_for_text("Link this badge").await;
    tablet
        .fill("form[action$='/link'] input[name=login]", "ann")
        .await;
    tablet
        .fill("form[action$='/link'] input[name=pin]", "482916")
        .await;
    tablet
        .click("form[action$='/link'] button[type=submit]")
        .await;
    tablet.wait_for_text("Print all: 1 document").await;
    tablet.screenshot("station-jobs").await;
    tablet.click("#print-all").await;
    // The progress page refreshes itself, then signs the station out.
    tablet
        .wait_for_text("1 document(s) printed. You are signed out.")
        .await;
    tablet.screenshot("station-printed").await;
    printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    let files = printer.spooled_files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].bytes(), document);
    // The badge now signs in alone.
    tablet.fill("#badge", "0004815162342\u{E007}").await;
    tablet.wait_for_text("You have no documents waiting.").await;
    tablet.close().await;
    server.stop().await;
}

#[tokio::test]
async fn a_phone_opens_the_printer_qr_url_signs_in_and_releases_in_one_tap() {
    let (server, printer, guid, document) = release_world("Lobby").await;
    let phone = Browser::start(390, 844).await;
    phone.goto(&server.url(&format!("/r/{guid}"))).await;
    phone.wait_for_text("Sign in to print here").await;
    phone.fill("input[name=login]", "ann@example.org").await;
    phone
        .fill("input[name=password]", "ann's long password")
        .await;
    phone
        .click("form[action$='/login'] button[type=submit]")
        .await;
    phone.wait_for_text("Waiting: 1 document").await;
    phone.screenshot("phone-release").await;
    phone.click("#print-all").await;
    phone.wait_for_text("Printed").await;
    phone.screenshot("phone-printed").await;
    printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!(printer.spooled_files()[0].bytes(), document);
    // The phone stays signed in: the next visit goes straight to the documents.
    phone.goto(&server.url(&format!("/r/{guid}"))).await;
    phone.wait_for_text("You have no documents waiting.").await;
    phone.close().await;
    server.stop().await;
}
