//! The printer admin pages of a real server: adding a real IPP Everywhere printer,
//! refusing a bad URI, admins only, QR labels (HTML and SVG), disable/enable, and the
//! releases page.

use crate::support;

use support::printer::{PrinterOptions, TestPrinter, unreachable_uri};
use support::{Backend, TestServer, csrf_of, first_admin, get_text, login};

/// Posts the "Add printer" form; returns the response (not followed).
async fn add_printer(
    server: &TestServer,
    client: &reqwest::Client,
    name: &str,
    location: &str,
    uri: &str,
) -> reqwest::Response {
    let page = get_text(client, server.url("/admin/printers")).await;
    let csrf = csrf_of(&page);
    client
        .post(server.url("/admin/printers"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", name),
            ("location", location),
            ("uri", uri),
            ("protocol", "auto"),
            ("cost_mono", "0.05"),
            ("cost_color", ""),
        ])
        .send()
        .await
        .unwrap()
}

/// Adds a printer that must be accepted; returns its detail page path.
async fn added(server: &TestServer, client: &reqwest::Client, name: &str, uri: &str) -> String {
    let response = add_printer(server, client, name, "Lobby", uri).await;
    assert_eq!(response.status(), 303, "adding {name} redirects");
    let to = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/admin/printers/"), "{to}");
    to
}

/// Posts a button form of the page at `page_path` to `action_path`.
async fn press(
    server: &TestServer,
    client: &reqwest::Client,
    page_path: &str,
    action_path: &str,
) -> reqwest::Response {
    let csrf = csrf_of(&get_text(client, server.url(page_path)).await);
    client
        .post(server.url(action_path))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_adds_a_real_printer_and_sees_what_it_reported() {
    let printer = TestPrinter::start(
        PrinterOptions::named("hall").formats(&["application/pdf", "image/pwg-raster"]),
    )
    .await;
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;

    let to = added(&server, &client, "Hall", &printer.uri()).await;
    assert!(to.ends_with("?done=added"), "{to}");
    let page = get_text(&client, server.url(&to)).await;
    assert!(page.contains("Printer added."), "{page}");
    assert!(
        page.contains("PrintPark Test Printer"),
        "make and model: {page}"
    );
    assert!(page.contains("application/pdf") && page.contains("image/pwg-raster"));
    assert!(page.contains(">Ready<"), "state: {page}");

    let rows = server.services.printers.list().await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row.name.as_str(), row.location.as_str()),
        ("Hall", "Lobby")
    );
    assert_eq!(row.cost_mono_milli, Some(50));
    assert!(
        uuid::Uuid::parse_str(&row.guid).is_ok(),
        "GUID {}",
        row.guid
    );
    assert!(page.contains(&format!("/r/{}", row.guid)));
    assert!(page.contains(&format!("/station/{}", row.guid)));
    // The host the admin used, since no public URL is configured.
    assert!(page.contains(&format!("{}/r/{}", server.base, row.guid)));

    // Check now records a fresh check; the list shows the printer.
    let checked = press(
        &server,
        &client,
        &to,
        &format!("/admin/printers/{}/check", row.id),
    )
    .await;
    assert_eq!(checked.status(), 303);
    let after = get_text(
        &client,
        server.url(checked.headers()["location"].to_str().unwrap()),
    )
    .await;
    assert!(after.contains("Checked just now: Ready."), "{after}");
    let list = get_text(&client, server.url("/admin/printers")).await;
    assert!(list.contains("Hall") && list.contains(&printer.uri()));

    // An action that does not exist is not found.
    let unknown = press(
        &server,
        &client,
        &to,
        &format!("/admin/printers/{}/explode", row.id),
    )
    .await;
    assert_eq!(unknown.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn a_uri_that_is_not_ipp_is_refused_and_nothing_is_added() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;
    let response = add_printer(&server, &client, "Web thing", "", "http://x").await;
    assert_eq!(response.status(), 200, "the list again, with the error");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("class=\"error\"")
            && page.contains("must start with ipps://, ipp:// or socket://"),
        "{page}"
    );
    // What the admin typed is kept for correcting.
    assert!(page.contains("value=\"Web thing\"") && page.contains("value=\"http://x\""));
    assert!(server.services.printers.list().await.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn people_who_are_not_admins_get_403() {
    let server = TestServer::start(Backend::Sqlite).await;
    first_admin(&server, &server.client()).await;
    support::create_user(&server, "bob", "bob's long password").await;
    let client = server.client();
    assert_eq!(
        login(&server, &client, "bob", "bob's long password")
            .await
            .status(),
        303
    );
    for path in [
        "/admin/printers",
        "/admin/printers/labels",
        "/admin/printers/labels?format=svg",
        "/admin/releases",
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn labels_show_a_qr_code_per_enabled_printer_as_html_and_svg() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;
    // Unreachable printers are still added (and labelled): the label is about the place.
    added(&server, &client, "Hall & Co", &unreachable_uri()).await;
    added(&server, &client, "Library", &unreachable_uri()).await;
    let off = added(&server, &client, "Basement", &unreachable_uri()).await;
    let off_id = off
        .trim_start_matches("/admin/printers/")
        .split('?')
        .next()
        .unwrap();
    let response = press(
        &server,
        &client,
        &off,
        &format!("/admin/printers/{off_id}/disable"),
    )
    .await;
    assert_eq!(response.status(), 303);

    let rows = server.services.printers.list().await.unwrap();
    let guid = |name: &str| rows.iter().find(|p| p.name == name).unwrap().guid.clone();
    // Issue 20: labels are made only for a public address other machines can reach.
    let public = "https://print-test.example:8443";
    crate::first_hour_address::set_public_address(&server, &client, public).await;

    let page = get_text(&client, server.url("/admin/printers/labels")).await;
    assert_eq!(page.matches("<svg").count(), 2, "{page}");
    assert!(
        page.contains("Hall &#38; Co") && page.contains("Library"),
        "escaped name"
    );
    assert!(page.contains("Scan with your phone camera to print your documents here"));
    for name in ["Hall & Co", "Library"] {
        assert!(
            page.contains(&format!("{public}/r/{}", guid(name))),
            "{name}"
        );
    }
    assert!(!page.contains("Basement") && !page.contains(&guid("Basement")));
    assert!(!page.contains("<?xml"), "no XML declaration inside HTML");

    let svg = client
        .get(server.url("/admin/printers/labels?format=svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(svg.status(), 200);
    let content_type = svg.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("image/svg+xml"), "{content_type}");
    let svg = svg.text().await.unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("Hall &amp; Co") && svg.contains("Library"));
    assert!(svg.contains(&format!("/r/{}", guid("Library"))));
    assert!(!svg.contains("Basement"));
    // One outer document, one QR code per enabled printer.
    assert_eq!(svg.matches("<svg").count(), 3);
    assert_eq!(svg.matches("<?xml").count(), 1);
    server.stop().await;
}

#[tokio::test]
async fn disable_then_enable_shows_in_the_list_and_the_audit_log() {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;
    let to = added(&server, &client, "Annex", &unreachable_uri()).await;
    let id = server.services.printers.list().await.unwrap()[0].id;

    let response = press(
        &server,
        &client,
        &to,
        &format!("/admin/printers/{id}/disable"),
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("/admin/printers/{id}?done=disabled").as_str()
    );
    assert!(server.services.printers.by_id(id).await.unwrap().disabled);
    let list = get_text(&client, server.url("/admin/printers")).await;
    let row = support::between(&list, &format!("id=\"printer-{id}\""), "</tr>");
    assert!(
        row.contains("class=\"disabled\"") || row.contains(">disabled<"),
        "{row}"
    );

    let response = press(
        &server,
        &client,
        &to,
        &format!("/admin/printers/{id}/enable"),
    )
    .await;
    assert_eq!(response.status(), 303);
    assert!(!server.services.printers.by_id(id).await.unwrap().disabled);
    let list = get_text(&client, server.url("/admin/printers")).await;
    let row = support::between(&list, &format!("id=\"printer-{id}\""), "</tr>");
    assert!(!row.contains(">disabled<"), "{row}");

    let audit = server
        .services
        .db
        .audit_page(None, 50, Some("printer"))
        .await
        .unwrap();
    for action in ["printer.add", "printer.disable", "printer.enable"] {
        assert!(audit.iter().any(|e| e.action == action), "{action}");
    }

    // Nothing has failed yet: the releases page says so.
    let releases = get_text(&client, server.url("/admin/releases")).await;
    assert!(releases.contains("Nothing to look at"), "{releases}");
    server.stop().await;
}
