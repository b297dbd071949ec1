//! The device admin pages of a real server, with devices stored through the repository
//! (no SNMP here: `discovery.rs` scans real agents): the list with its filters and low
//! supplies, the detail with supply bars and the meter chart, making a release printer,
//! and admins only. The discovery page is tested in `discovery_admin.rs`.

use crate::support;

use printpark::db::{DeviceFields, SupplyRow};
use support::{Backend, TestServer, csrf_of, first_admin, get_text, login};

fn device(ip: &str, name: &str, kind: &str, status: &str) -> DeviceFields {
    DeviceFields {
        ip: ip.into(),
        mac: Some(format!(
            "00:11:22:33:44:{}",
            &ip[ip.len() - 2..].replace('.', "0")
        )),
        serial: Some(format!("SN-{name}")),
        kind: kind.into(),
        manufacturer: "Acme".into(),
        model: format!("Laser {name}"),
        sys_name: name.into(),
        location: "2nd floor".into(),
        status: status.into(),
        ..Default::default()
    }
}

fn supply(idx: i64, description: &str, kind: &str, colorant: &str, percent: i64) -> SupplyRow {
    SupplyRow {
        idx,
        description: description.into(),
        kind: kind.into(),
        colorant: colorant.into(),
        unit: "percent".into(),
        max_capacity: Some(100),
        level: Some(percent),
        percent: Some(percent),
    }
}

async fn admin_server_on(backend: Backend) -> (TestServer, reqwest::Client) {
    let server = TestServer::start(backend).await;
    let client = server.client();
    first_admin(&server, &client).await;
    (server, client)
}

#[tokio::test]
async fn the_list_shows_printers_with_status_and_low_supplies_and_filters_on_sqlite() {
    the_list_shows_printers_with_status_and_low_supplies_and_filters(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_list_shows_printers_with_status_and_low_supplies_and_filters_on_postgres() {
    the_list_shows_printers_with_status_and_low_supplies_and_filters(Backend::Postgres).await;
}

async fn the_list_shows_printers_with_status_and_low_supplies_and_filters(backend: Backend) {
    let (server, client) = admin_server_on(backend).await;
    let db = &server.services.db;
    let hall = db
        .save_device(None, &device("10.0.0.12", "hall", "printer", "warning"))
        .await
        .unwrap();
    db.record_supplies(
        hall,
        &[
            supply(1, "Black Toner", "toner", "black", 8),
            supply(2, "Drum", "opc", "", 60),
        ],
    )
    .await
    .unwrap();
    let annex = db
        .save_device(None, &device("10.0.0.9", "annex", "printer", "ok"))
        .await
        .unwrap();
    db.record_supplies(annex, &[supply(1, "Black Toner", "toner", "black", 80)])
        .await
        .unwrap();
    let switch = db
        .save_device(None, &device("10.0.0.2", "core-switch", "other", "unknown"))
        .await
        .unwrap();

    let page = get_text(&client, server.url("/admin/devices")).await;
    let row = support::between(&page, &format!("id=\"device-{hall}\""), "</tr>");
    assert!(
        row.contains("Warning") && row.contains("class=\"badge status warn\""),
        "{row}"
    );
    assert!(
        row.contains("hall") && row.contains("10.0.0.12") && row.contains("SN-hall"),
        "{row}"
    );
    assert!(
        row.contains("Acme Laser hall") && row.contains("2nd floor"),
        "{row}"
    );
    assert!(
        row.contains("8 %") && row.contains(">low<"),
        "lowest supply flagged: {row}"
    );
    let row = support::between(&page, &format!("id=\"device-{annex}\""), "</tr>");
    assert!(
        row.contains("80 %") && !row.contains(">low<") && row.contains("OK"),
        "{row}"
    );
    assert!(
        !page.contains(&format!("device-{switch}\"")),
        "printers only by default"
    );
    // Sorted by address as numbers: .9 before .12.
    assert!(page.find(&format!("device-{annex}\"")) < page.find(&format!("device-{hall}\"")));
    assert!(
        page.contains("Showing 2 of 3 devices: 2 printers, 1 other devices"),
        "{page}"
    );

    let others = get_text(&client, server.url("/admin/devices?kind=other")).await;
    assert!(others.contains(&format!("device-{switch}\"")) && others.contains("core-switch"));
    assert!(
        !others.contains(&format!("device-{hall}\""))
            && !others.contains(&format!("device-{annex}\""))
    );
    let all = get_text(&client, server.url("/admin/devices?kind=all&sort=name")).await;
    let at = |id: i64| all.find(&format!("device-{id}\"")).unwrap();
    assert!(at(annex) < at(switch) && at(switch) < at(hall), "by name");
    let warning = get_text(&client, server.url("/admin/devices?status=warning")).await;
    assert!(
        warning.contains(&format!("device-{hall}\""))
            && !warning.contains(&format!("device-{annex}\""))
    );
    let low = get_text(&client, server.url("/admin/devices?status=low")).await;
    assert!(
        low.contains(&format!("device-{hall}\"")) && !low.contains(&format!("device-{annex}\""))
    );
    let found = get_text(&client, server.url("/admin/devices?q=SN-ANNEX")).await;
    assert!(
        found.contains(&format!("device-{annex}\""))
            && !found.contains(&format!("device-{hall}\""))
    );
    server.stop().await;
}

#[tokio::test]
async fn the_detail_shows_supply_bars_and_a_meter_chart_after_two_reads() {
    let (server, client) = admin_server_on(Backend::Sqlite).await;
    let db = &server.services.db;
    let mut fields = device("127.0.0.78", "colour-mfp", "printer", "error");
    fields.color = Some(true);
    fields.error_state = "lowToner,doorOpen".into();
    fields.display = "Close front door".into();
    fields.alerts = "critical: Cover open (coverOpen)".into();
    fields.firmware = "FW 2.1 <beta>".into();
    let id = db.save_device(None, &fields).await.unwrap();
    db.record_supplies(
        id,
        &[
            supply(1, "Cyan Toner", "toner", "cyan", 40),
            supply(2, "Black Toner", "toner", "black", 12),
            supply(3, "Waste Toner Box", "wasteToner", "", 70),
        ],
    )
    .await
    .unwrap();
    db.record_meters(id, Some(1000), Some(800), Some(200))
        .await
        .unwrap();
    let path = format!("/admin/devices/{id}");

    let page = get_text(&client, server.url(&path)).await;
    assert!(page.contains("Not enough reads yet"), "one read: {page}");
    assert!(!page.contains("aria-label=\"Pages per day\""));
    for text in [
        "Cyan Toner",
        "40 %",
        "Black Toner",
        "12 %",
        "Waste Toner Box",
        "70 %",
    ] {
        assert!(page.contains(text), "{text}: {page}");
    }
    // Bars are SVG (the CSP allows no inline style): width = percent, colorant colour.
    assert!(
        page.contains("<rect width=\"40\" height=\"10\" fill=\"#00a0d8\"/>"),
        "{page}"
    );
    assert!(page.contains("<rect width=\"12\" height=\"10\" fill=\"#222222\"/>"));
    assert!(
        page.contains("<rect width=\"70\" height=\"10\" fill=\"#8a93a3\"/>"),
        "not a colorant: grey"
    );
    let black = support::between(&page, "Black Toner", "</tr>");
    assert!(black.contains(">low<"), "{black}");
    for text in [
        "lowToner",
        "doorOpen",
        "Close front door",
        "Cover open (coverOpen)",
        "SN-colour-mfp",
        "colour",
    ] {
        assert!(page.contains(text), "{text}");
    }
    assert!(
        page.contains("FW 2.1 &#60;beta&#62;") || page.contains("FW 2.1 &lt;beta&gt;"),
        "escaped"
    );
    assert!(page.contains("Make it a release printer"));
    // A toner curve from the one supply read already.
    assert!(page.contains("aria-label=\"Supply levels, percent\"") && page.contains("<polyline"));

    db.record_meters(id, Some(1150), Some(900), Some(250))
        .await
        .unwrap();
    let page = get_text(&client, server.url(&path)).await;
    let chart = support::between(&page, "aria-label=\"Pages per day\"", "</svg>");
    assert!(chart.contains("150 pages"), "{chart}");
    assert!(page.contains("<svg class=\"chart\""));
    assert!(!page.contains("Not enough reads yet: the chart"), "{page}");

    // Nothing answers on 127.0.0.78: the page again with the reason.
    let csrf = csrf_of(&page);
    let response = client
        .post(server.url(&format!("{path}/make-printer")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("class=\"error\"")
            && page.contains("neither IPP (631) nor raw printing (9100)"),
        "{page}"
    );

    // With raw printing open, it becomes a release printer; then the page links to it.
    let listener = tokio::net::TcpListener::bind("127.0.0.78:9100")
        .await
        .unwrap();
    let accept = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let response = client
        .post(server.url(&format!("{path}/make-printer")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let to = response.headers()["location"].to_str().unwrap().to_owned();
    let printer = server
        .services
        .devices
        .device(id)
        .await
        .unwrap()
        .printer_id
        .expect("linked");
    assert_eq!(to, format!("/admin/printers/{printer}?done=added"));
    let row = server.services.printers.by_id(printer).await.unwrap();
    assert_eq!(
        (row.name.as_str(), row.uri.as_str()),
        ("colour-mfp", "socket://127.0.0.78:9100")
    );
    let page = get_text(&client, server.url(&path)).await;
    assert!(
        page.contains(&format!("href=\"/admin/printers/{printer}\""))
            && !page.contains("Make it a release printer")
    );
    accept.abort();

    let missing = client
        .get(server.url("/admin/devices/999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn people_who_are_not_admins_get_403() {
    let server = TestServer::start(Backend::Sqlite).await;
    first_admin(&server, &server.client()).await;
    let id = server
        .services
        .db
        .save_device(None, &device("10.0.0.5", "p", "printer", "ok"))
        .await
        .unwrap();
    support::create_user(&server, "bob", "bob's long password").await;
    let client = server.client();
    assert_eq!(
        login(&server, &client, "bob", "bob's long password")
            .await
            .status(),
        303
    );
    for path in [
        "/admin/devices".to_owned(),
        format!("/admin/devices/{id}"),
        "/admin/discovery".to_owned(),
    ] {
        let response = client.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    server.stop().await;
}
