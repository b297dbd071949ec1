//! Issue 20 (screens): long names and small screens. A 250-character file name (one
//! multi-byte, one plain) on the portal, the station's review list, the phone page,
//! the admin's releases and users pages, at 1280, 1024 and 390 pixels wide (and the
//! station at 800x1280): the page never scrolls sideways, and the copies, pages and
//! colour of each job stay on screen. The admin navigation fits a phone and marks
//! where you are. Screenshots `issue20-screens-<page>-<width>` are written for review.
//! The world built here is shared with `kiosk.rs` and `words.rs`.

use crate::support;

use std::time::Duration;

use printpark::db::PrinterRow;
use printpark::identity::{ClientInfo, User};
use printpark::jobs::{ColorMode, Compression, HeldJob, Sides, Submission};
use printpark::release::{PrinterForm, ReleaseVia};
use serde_json::json;
use support::browser::Browser;
use support::printer::{PrinterOptions, TestPrinter};
use support::{Backend, TestServer};

pub(crate) const ANN_PASSWORD: &str = "ann's long password";
pub(crate) const ANN_PIN: &str = "482916";
pub(crate) const ADMIN_PASSWORD: &str = "correct horse battery";

/// A name of exactly `chars` characters with no space to break at, ending ".pdf":
/// multi-byte ("Rapport-été-報告書-…") or plain ASCII.
pub(crate) fn long_name(chars: usize, multibyte: bool) -> String {
    let stem = if multibyte {
        "Rapport-trimestriel-été-報告書-"
    } else {
        "Quarterly-report-final-v2-"
    };
    let mut name: String = stem.chars().cycle().take(chars - 4).collect();
    name.push_str(".pdf");
    assert_eq!(name.chars().count(), chars);
    name
}

/// A server with the admin "boss", a user "ann" (PIN 482916) and the printers the
/// tests need.
pub(crate) struct World {
    pub server: TestServer,
    pub admin: User,
    pub ann: User,
}

impl World {
    pub async fn new(backend: Backend) -> Self {
        let server = TestServer::start(backend).await;
        let identity = &server.services.identity;
        let admin = support::create_admin(identity).await;
        let ann = support::create_user(&server, "ann", ANN_PASSWORD).await;
        identity
            .set_own_pin(&ann, ANN_PASSWORD, ANN_PIN, &ClientInfo::default())
            .await
            .unwrap();
        Self { server, admin, ann }
    }

    /// Parks `fixture` for ann under `name`, with `copies`.
    pub async fn park(&self, name: &str, fixture: &str, copies: i64) -> HeldJob {
        let document = std::fs::read(support::fixture_path(fixture)).unwrap();
        let format = if fixture.ends_with(".jpg") {
            "image/jpeg"
        } else {
            "application/pdf"
        };
        self.server
            .services
            .jobs
            .park(
                &self.ann,
                &Submission {
                    name,
                    format,
                    copies,
                    sides: Sides::OneSided,
                    source: "portal",
                    compression: Compression::None,
                    color_mode: ColorMode::Auto,
                    accept: None,
                    page_ranges: None,
                },
                &mut &document[..],
                &ClientInfo::default(),
            )
            .await
            .unwrap()
    }

    /// A printer at `uri` (checked when added: what it can do is known).
    pub async fn printer(&self, name: &str, uri: &str) -> PrinterRow {
        self.server
            .services
            .printers
            .add(
                &self.admin,
                &PrinterForm {
                    name: name.into(),
                    location: "2nd floor".into(),
                    uri: uri.into(),
                    ..Default::default()
                },
                &ClientInfo::default(),
            )
            .await
            .unwrap()
    }

    /// A browser of `width` x `height` signed in to the portal as `login`.
    pub async fn signed_in(&self, login: &str, password: &str, width: u32, height: u32) -> Browser {
        let browser = Browser::start(width, height).await;
        browser.goto(&self.server.url("/login")).await;
        browser.fill("input[name=login]", login).await;
        browser.fill("input[name=password]", password).await;
        browser
            .click("form[action='/login'] button[type=submit]")
            .await;
        browser.wait_for_text("Sign out").await;
        browser
    }

    /// A browser signed in at `guid`'s station with ann's login and PIN.
    pub async fn at_station(&self, guid: &str, width: u32, height: u32) -> Browser {
        let tablet = Browser::start(width, height).await;
        tablet
            .goto(&self.server.url(&format!("/station/{guid}")))
            .await;
        tablet.wait_for_text("Username and PIN").await;
        tablet
            .fill("form[action$='/pin'] input[name=login]", "ann")
            .await;
        tablet
            .fill("form[action$='/pin'] input[name=pin]", ANN_PIN)
            .await;
        tablet
            .click("form[action$='/pin'] button[type=submit]")
            .await;
        tablet.wait_for_text("Hello").await;
        tablet
    }
}

/// Asserts every element matching `css` (there must be one) is laid out inside the
/// viewport's width: not pushed off screen by a long name.
pub(crate) async fn assert_in_view(browser: &Browser, css: &str, what: &str) {
    let boxes = browser
        .execute(
            "return Array.from(document.querySelectorAll(arguments[0])).map(e => { \
               const r = e.getBoundingClientRect(); \
               return [r.left, r.right, r.width, window.innerWidth]; });",
            vec![json!(css)],
        )
        .await;
    let boxes = boxes.as_array().unwrap();
    assert!(!boxes.is_empty(), "{what}: nothing matches {css}");
    for b in boxes {
        let (left, right, width, inner) = (
            b[0].as_f64().unwrap(),
            b[1].as_f64().unwrap(),
            b[2].as_f64().unwrap(),
            b[3].as_f64().unwrap(),
        );
        assert!(
            width > 0.0 && left >= 0.0 && right <= inner + 0.5,
            "{what}: {css} is at {left}..{right} in a {inner} px viewport"
        );
    }
}

const WIDTHS: [(u32, u32); 3] = [(1280, 900), (1024, 768), (390, 844)];

/// Looks at `path` at each width: no sideways scroll, each of `visible` on screen.
async fn at_every_width(browser: &Browser, url: &str, wait: &str, page: &str, visible: &[&str]) {
    for (width, height) in WIDTHS {
        browser.resize(width, height).await;
        browser.goto(url).await;
        browser.wait_for_text(wait).await;
        let what = format!("{page} at {width} px");
        browser.assert_no_horizontal_overflow(&what).await;
        for css in visible {
            assert_in_view(browser, css, &what).await;
        }
        browser
            .screenshot(&format!("issue20-screens-{page}-{width}"))
            .await;
    }
}

#[tokio::test]
async fn long_names_never_push_copies_pages_or_colour_off_screen() {
    let w = World::new(Backend::Sqlite).await;
    let multibyte = long_name(250, true);
    let plain = long_name(250, false);
    // The job that hid: 99 copies behind a long name.
    w.park(&multibyte, "document-a4.pdf", 99).await;
    w.park(&plain, "color.jpg", 1).await;
    let printer = TestPrinter::start(PrinterOptions::named("Copier").color().duplex()).await;
    let row = w.printer("Copier", &printer.ipps_uri()).await;

    // The portal.
    let portal = w.signed_in("ann", ANN_PASSWORD, 1280, 900).await;
    at_every_width(
        &portal,
        &w.server.url("/portal"),
        "Park documents",
        "portal",
        &[
            "#held-jobs td.pages",
            "#held-jobs td.copies",
            "#held-jobs td.colour",
            "#upload-form button[type=submit]",
        ],
    )
    .await;
    // The whole name is one tap away.
    assert!(
        portal
            .source()
            .await
            .contains(&format!("<span class=\"full-name\">{multibyte}</span>")),
        "the full name is on the page"
    );
    // On a phone, parking and the waiting jobs come first: the upload form is above
    // the jobs table.
    let order = portal
        .execute(
            "return document.querySelector('#upload-form').getBoundingClientRect().top \
             < document.querySelector('#held-jobs').getBoundingClientRect().top;",
            vec![],
        )
        .await;
    assert_eq!(order, json!(true));
    portal.close().await;

    // The station's review list, at the tablet sizes too.
    let tablet = w.at_station(&row.guid, 1024, 768).await;
    tablet.wait_for_text("99 copies").await;
    let review = w.server.url(&format!("/station/{}?view=review", row.guid));
    at_every_width(
        &tablet,
        &review,
        "Print selected",
        "station-review",
        &["td.pages", "td.copies", "td.options", "button[value=print]"],
    )
    .await;
    tablet.resize(800, 1280).await;
    tablet.goto(&review).await;
    tablet.wait_for_text("Print selected").await;
    tablet
        .assert_no_horizontal_overflow("station review at 800x1280")
        .await;
    assert_in_view(&tablet, "td.copies", "station review at 800x1280").await;
    tablet
        .screenshot("issue20-screens-station-review-800")
        .await;
    tablet.close().await;

    // The phone page.
    let phone = Browser::start(390, 844).await;
    phone.goto(&w.server.url(&format!("/r/{}", row.guid))).await;
    phone.fill("input[name=login]", "ann").await;
    phone.fill("input[name=password]", ANN_PASSWORD).await;
    phone
        .click("form[action$='/login'] button[type=submit]")
        .await;
    phone.wait_for_text("Print all here").await;
    at_every_width(
        &phone,
        &w.server.url(&format!("/r/{}", row.guid)),
        "Print all here",
        "phone",
        &["#totals", "#repeated li", "#print-all"],
    )
    .await;
    assert!(phone.text_of("#repeated").await.contains("99 copies"));
    phone.close().await;

    // Admin → Releases: a release of the long-named job that failed (the printer
    // takes no format PrintPark can make).
    let foreign =
        TestPrinter::start(PrinterOptions::named("Foreign").formats(&["application/x-foreign"]))
            .await;
    let foreign_row = w.printer("Foreign", &foreign.uri()).await;
    w.server
        .services
        .release
        .release_all(
            &w.ann,
            &foreign_row.guid,
            ReleaseVia::Station,
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while w
        .server
        .services
        .release
        .problems(&w.admin)
        .await
        .unwrap()
        .len()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "the releases failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A long name and department on a person, for Admin → Users.
    w.server
        .services
        .identity
        .create_user(
            Some(&w.admin),
            &printpark::identity::NewUserRequest {
                username: "zoe".into(),
                email: "zoe@example.org".into(),
                name: long_name(250, true).replace(".pdf", ""),
                department: long_name(120, false),
                ..Default::default()
            },
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    let admin = w.signed_in("boss", ADMIN_PASSWORD, 1280, 900).await;
    at_every_width(
        &admin,
        &w.server.url("/admin/releases"),
        "id=\"release-",
        "admin-releases",
        &["td.actions button", "td.doc"],
    )
    .await;
    at_every_width(
        &admin,
        &w.server.url("/admin/users"),
        "New user",
        "admin-users",
        &["#users td.actions", "form[action='/admin/users'] button"],
    )
    .await;
    at_every_width(
        &admin,
        &w.server.url("/admin/printers"),
        "Add printer",
        "admin-printers",
        &["table.printers a"],
    )
    .await;
    w.server.stop().await;
}

#[tokio::test]
async fn the_admin_menu_fits_a_phone_and_marks_where_you_are() {
    let w = World::new(Backend::Sqlite).await;
    let admin = w.signed_in("boss", ADMIN_PASSWORD, 1280, 900).await;
    admin.goto(&w.server.url("/admin/users")).await;
    admin.wait_for_text("New user").await;
    // Where you are: the Users entry (and only it) is the current page.
    let current = admin
        .execute(
            "return Array.from(document.querySelectorAll('nav.wide a[aria-current=page]')) \
             .map(a => [a.getAttribute('href'), getComputedStyle(a).fontWeight]);",
            vec![],
        )
        .await;
    assert_eq!(current, json!([["/admin/users", "700"]]));
    assert!(!admin.exists("details.menu[open]").await);
    // A user's own page is under Users.
    admin
        .goto(&w.server.url(&format!("/admin/users/{}", w.ann.id)))
        .await;
    admin.wait_for_text("User ann").await;
    assert_eq!(
        admin
            .execute(
                "return document.querySelector('nav.wide a[aria-current=page]').getAttribute('href');",
                vec![]
            )
            .await,
        json!("/admin/users")
    );
    admin.screenshot("issue20-screens-nav-1280").await;

    // A phone: the bar folds into one menu button that says where you are.
    admin.resize(390, 844).await;
    admin.goto(&w.server.url("/admin/printers")).await;
    admin.wait_for_text("Add printer").await;
    admin
        .assert_no_horizontal_overflow("admin printers at 390")
        .await;
    let shown = admin
        .execute(
            "const v = e => e && getComputedStyle(e).display !== 'none'; \
             return [v(document.querySelector('nav.wide')), v(document.querySelector('details.menu')), \
                     document.querySelector('details.menu summary').textContent];",
            vec![],
        )
        .await;
    assert_eq!(shown[0], json!(false), "the bar is folded away");
    assert_eq!(shown[1], json!(true), "the menu button shows");
    assert!(
        shown[2].as_str().unwrap().starts_with("Printers"),
        "{shown}"
    );
    let header_height = admin
        .execute(
            "return document.querySelector('header.top').getBoundingClientRect().height;",
            vec![],
        )
        .await;
    assert!(
        header_height.as_f64().unwrap() < 140.0,
        "the folded header is short: {header_height}"
    );
    admin.screenshot("issue20-screens-nav-390").await;
    admin.click("details.menu summary").await;
    admin.wait_for_text("Single sign-on").await;
    admin
        .assert_no_horizontal_overflow("open menu at 390")
        .await;
    admin.screenshot("issue20-screens-nav-390-open").await;
    admin.click("details.menu a[href='/admin/audit']").await;
    admin.wait_for_path("/admin/audit").await;
    admin.close().await;
    w.server.stop().await;
}
