//! Issue 20 (screens): the kiosk stays a kiosk. The station and phone pages have no
//! link that leaves them (no footer link to the API docs, no brand link, no
//! navigation); the station offers only what its printer can do (no two-sided on a
//! one-sided printer, no mono on a mono printer); on a 10-inch tablet (1024x768,
//! 800x1280) every touch target is at least 48 px and the type is large.

use crate::screens::{ANN_PASSWORD, World, assert_in_view, long_name};
use crate::support;

use serde_json::json;
use support::Backend;
use support::browser::Browser;
use support::printer::{PrinterOptions, TestPrinter};

/// The `href` of every link on the page that does not stay on `home` (the station's
/// or phone page's own path).
async fn links_out(browser: &Browser, home: &str) -> Vec<String> {
    let hrefs = browser
        .execute(
            "return Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'));",
            vec![],
        )
        .await;
    hrefs
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .filter(|h| !(h == home || h.starts_with(&format!("{home}?"))))
        .collect()
}

/// Visible touch targets (buttons, button-links, inputs, checkboxes) lower than 48 px.
async fn small_targets(browser: &Browser) -> Vec<serde_json::Value> {
    browser
        .execute(
            "return Array.from(document.querySelectorAll('button, a.button, input:not([type=hidden]), summary')) \
               .filter(e => e.offsetParent !== null) \
               .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect().height]) \
               .filter(x => x[1] < 48);",
            vec![],
        )
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn station_and_phone_pages_have_no_way_out_and_big_touch_targets() {
    let w = World::new(Backend::Sqlite).await;
    w.park(&long_name(250, true), "document-a4.pdf", 3).await;
    let printer = TestPrinter::start(PrinterOptions::named("Copier").color().duplex()).await;
    let row = w.printer("Copier", &printer.ipps_uri()).await;
    let home = format!("/station/{}", row.guid);

    for (width, height) in [(1024, 768), (800, 1280)] {
        // Signed out: the sign-in screen.
        let tablet = Browser::start(width, height).await;
        tablet.goto(&w.server.url(&home)).await;
        tablet.wait_for_text("Username and PIN").await;
        assert_eq!(links_out(&tablet, &home).await, Vec::<String>::new());
        assert!(!tablet.exists("footer").await);
        assert!(!tablet.exists("nav").await);
        assert_eq!(
            small_targets(&tablet).await,
            Vec::<serde_json::Value>::new()
        );
        let type_size = tablet
            .execute(
                "return parseFloat(getComputedStyle(document.querySelector('main label')).fontSize);",
                vec![],
            )
            .await;
        assert!(type_size.as_f64().unwrap() >= 19.0, "big type: {type_size}");
        tablet
            .screenshot(&format!("issue20-kiosk-station-signin-{width}"))
            .await;
        tablet.close().await;

        // Signed in: the documents and the review list.
        let tablet = w.at_station(&row.guid, width, height).await;
        tablet.wait_for_text("Print all:").await;
        assert_eq!(links_out(&tablet, &home).await, Vec::<String>::new());
        assert_eq!(
            small_targets(&tablet).await,
            Vec::<serde_json::Value>::new()
        );
        tablet.assert_no_horizontal_overflow("station jobs").await;
        tablet
            .screenshot(&format!("issue20-kiosk-station-jobs-{width}"))
            .await;
        tablet.click("#review").await;
        tablet.wait_for_text("Print selected").await;
        assert_eq!(links_out(&tablet, &home).await, Vec::<String>::new());
        assert_eq!(
            small_targets(&tablet).await,
            Vec::<serde_json::Value>::new()
        );
        tablet.assert_no_horizontal_overflow("station review").await;
        assert_in_view(&tablet, "td.copies input", "station review").await;
        assert_in_view(&tablet, "td.options label", "station review").await;
        tablet
            .screenshot(&format!("issue20-kiosk-station-review-{width}"))
            .await;
        tablet.close().await;
    }

    // The phone page: no way out either (signed out and in).
    let here = format!("/r/{}", row.guid);
    let phone = Browser::start(390, 844).await;
    phone.goto(&w.server.url(&here)).await;
    phone.wait_for_text("Sign in to print here").await;
    assert_eq!(links_out(&phone, &here).await, Vec::<String>::new());
    assert!(!phone.exists("footer").await);
    phone.fill("input[name=login]", "ann").await;
    phone.fill("input[name=password]", ANN_PASSWORD).await;
    phone
        .click("form[action$='/login'] button[type=submit]")
        .await;
    phone.wait_for_text("Print all here").await;
    assert_eq!(links_out(&phone, &here).await, Vec::<String>::new());
    assert!(!phone.exists("footer").await);
    assert!(!phone.exists("nav").await);
    phone.screenshot("issue20-kiosk-phone-390").await;
    phone.close().await;
    w.server.stop().await;
}

#[tokio::test]
async fn the_station_offers_only_what_its_printer_can_do() {
    let w = World::new(Backend::Sqlite).await;
    // A colour document, one-sided: on a colour duplex printer both choices show.
    w.park("photo.jpg", "color.jpg", 1).await;
    let able = TestPrinter::start(PrinterOptions::named("Able").color().duplex()).await;
    let able_row = w.printer("Able", &able.ipps_uri()).await;
    assert_eq!(
        (able_row.color_supported, able_row.duplex_supported),
        (Some(true), Some(true))
    );
    let plain = TestPrinter::start(PrinterOptions::named("Plain")).await;
    let plain_row = w.printer("Plain", &plain.ipps_uri()).await;
    assert_eq!(
        (plain_row.color_supported, plain_row.duplex_supported),
        (Some(false), Some(false))
    );

    let tablet = w.at_station(&able_row.guid, 1024, 768).await;
    tablet.click("#review").await;
    tablet.wait_for_text("Print selected").await;
    assert!(tablet.exists("input[name^=mono-]").await);
    assert!(tablet.exists("input[name^=duplex-]").await);
    tablet.screenshot("issue20-kiosk-station-able-1024").await;
    tablet.close().await;

    // A mono, one-sided printer: neither choice (it could do neither).
    let tablet = w.at_station(&plain_row.guid, 1024, 768).await;
    tablet.click("#review").await;
    tablet.wait_for_text("Print selected").await;
    assert!(!tablet.exists("input[name^=mono-]").await);
    assert!(!tablet.exists("input[name^=duplex-]").await);
    assert_eq!(
        tablet
            .execute(
                "return document.querySelector('td.options').textContent.trim();",
                vec![]
            )
            .await,
        json!("—")
    );
    tablet.screenshot("issue20-kiosk-station-plain-1024").await;
    tablet.close().await;
    w.server.stop().await;
}
