//! Issue 17: what printers take and speak, on the admin pages of a real server. A raw
//! (socket://) printer's language is set, changed and cleared with the printer form
//! (an unknown one is refused with a sentence); a printer linked to a device that
//! reports its interpreters over SNMP (snmpsim serving the recordings of
//! tests/fixtures/snmp) gets them stored and the best proposed on its page; a raw
//! printer with neither is flagged; and each printer's page and the list say what it
//! takes and what PrintPark sends it (real `ippeveprinter`s taking only PWG raster,
//! or PDF).

use crate::support;

use std::net::Ipv4Addr;

use printpark::db::DiscoverySettingsRow;
use printpark::devices::NewCredential;
use printpark::identity::ClientInfo;
use printpark::release::PrinterForm;
use support::printer::{PrinterOptions, TestPrinter};
use support::snmp::{AgentSpec, Recording, SnmpAgents};
use support::{Backend, TestServer, csrf_of, first_admin, get_text};

/// Nothing listens there: a raw printer that is "unreachable", added all the same.
const RAW_URI: &str = "socket://127.0.0.1:1";

async fn admin_server() -> (TestServer, reqwest::Client) {
    let server = TestServer::start(Backend::Sqlite).await;
    let client = server.client();
    first_admin(&server, &client).await;
    (server, client)
}

/// Posts the printer form of `page_path` to `action`; returns the response.
async fn post_printer(
    server: &TestServer,
    client: &reqwest::Client,
    page_path: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = csrf_of(&get_text(client, server.url(page_path)).await);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    client
        .post(server.url(action))
        .form(&form)
        .send()
        .await
        .unwrap()
}

fn settings_of<'a>(name: &'a str, uri: &'a str, language: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("location", "Annex"),
        ("uri", uri),
        ("protocol", "auto"),
        ("cost_mono", ""),
        ("cost_color", ""),
        ("language", language),
    ]
}

async fn row(server: &TestServer, id: i64) -> printpark::db::PrinterRow {
    server.services.printers.by_id(id).await.unwrap()
}

/// The id at the end of `/admin/printers/ID?done=…`.
fn id_of(location: &str) -> i64 {
    location
        .trim_start_matches("/admin/printers/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_form_sets_changes_and_clears_a_raw_printers_language_and_refuses_pcl7() {
    let (server, client) = admin_server().await;
    // Added without a language: its page warns that jobs go as they are.
    let added = post_printer(
        &server,
        &client,
        "/admin/printers",
        "/admin/printers",
        &settings_of("Basement laser", RAW_URI, ""),
    )
    .await;
    assert_eq!(added.status(), 303);
    let path = added.headers()["location"].to_str().unwrap().to_owned();
    let id = id_of(&path);
    assert_eq!(row(&server, id).await.language, None);
    let page = get_text(&client, server.url(&path)).await;
    assert!(page.contains("id=\"raw-language-warning\""), "{page}");
    assert!(page.contains("Jobs are sent to this printer as they are."));
    assert!(
        page.contains("as parked (printer language not set)"),
        "{page}"
    );
    let detail = format!("/admin/printers/{id}");

    // Set to PCL XL: stored, shown, audited with the edit; the warning is gone.
    let saved = post_printer(
        &server,
        &client,
        &detail,
        &detail,
        &settings_of("Basement laser", RAW_URI, "pclxl"),
    )
    .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(row(&server, id).await.language.as_deref(), Some("pclxl"));
    let page = get_text(&client, server.url(&detail)).await;
    assert!(!page.contains("id=\"raw-language-warning\""), "{page}");
    assert!(
        page.contains("<option value=\"pclxl\" selected>PCL XL</option>"),
        "{page}"
    );
    assert!(
        page.contains("PCL XL (converted), its printer language"),
        "{page}"
    );
    let audit = server
        .services
        .db
        .audit_page(None, 50, Some("printer"))
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "printer.update" && e.detail.contains("language pclxl")),
        "{audit:?}"
    );

    // An unknown language: a sentence, nothing changed.
    let refused = post_printer(
        &server,
        &client,
        &detail,
        &detail,
        &settings_of("Basement laser", RAW_URI, "pcl7"),
    )
    .await;
    assert_eq!(refused.status(), 200, "the page again, with the refusal");
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("is not a printer language PrintPark can send"),
        "{text}"
    );
    assert!(text.contains("pcl7"));
    assert_eq!(row(&server, id).await.language.as_deref(), Some("pclxl"));

    // PostScript, then cleared.
    post_printer(
        &server,
        &client,
        &detail,
        &detail,
        &settings_of("Basement laser", RAW_URI, "postscript"),
    )
    .await;
    assert_eq!(
        row(&server, id).await.language.as_deref(),
        Some("postscript")
    );
    let cleared = post_printer(
        &server,
        &client,
        &detail,
        &detail,
        &settings_of("Basement laser", RAW_URI, ""),
    )
    .await;
    assert_eq!(cleared.status(), 303);
    assert_eq!(row(&server, id).await.language, None);
}

const MONO: Ipv4Addr = Ipv4Addr::new(127, 0, 17, 11);
const MFP: Ipv4Addr = Ipv4Addr::new(127, 0, 17, 12);
const JAM: Ipv4Addr = Ipv4Addr::new(127, 0, 17, 13);

#[tokio::test]
async fn a_linked_raw_printer_reports_its_languages_over_snmp_and_its_page_proposes_the_best() {
    let agents = SnmpAgents::start(&[
        AgentSpec::v2c(Recording::MonoLaser, MONO),
        AgentSpec::v2c(Recording::ColourMfp, MFP),
        AgentSpec::v2c(Recording::JammedLaser, JAM),
    ])
    .await;
    let (server, client) = admin_server().await;
    let boss = support::create_admin(&server.services.identity).await;
    let devices = &server.services.devices;
    let none = ClientInfo::default();
    let settings = DiscoverySettingsRow {
        port: i64::from(agents.port),
        timeout_ms: 2000,
        retries: 1,
        ..devices.settings().await.unwrap()
    };
    devices
        .save_settings(&boss, &settings, &none)
        .await
        .unwrap();
    devices
        .add_range(&boss, "127.0.17.8/29", false, &none)
        .await
        .unwrap();
    devices
        .add_credential(
            &boss,
            &NewCredential {
                name: "office".into(),
                version: "2c".into(),
                community: "public".into(),
                ..Default::default()
            },
            &none,
        )
        .await
        .unwrap();
    let scan = devices.scan("test", None, false, &|_| {}).await.unwrap();
    assert_eq!(scan.printers, 3, "{scan:?}\n{}", agents.logs());

    // Each device becomes a raw printer linked to it; the next poll says what it speaks.
    let snmp = printpark::devices::Devices::snmp_settings(&devices.settings().await.unwrap());
    let mut printers = Vec::new();
    for (ip, name) in [(MONO, "Hall mono"), (MFP, "Finance MFP"), (JAM, "Annex")] {
        let device = devices
            .list()
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.ip == ip.to_string())
            .unwrap();
        if ip == MFP {
            // "Make it a release printer" with raw printing open: linked, and due for
            // the next monitoring round (which the poll below stands in for).
            let listener = tokio::net::TcpListener::bind((MFP, 9100)).await.unwrap();
            let id = devices.make_printer(&boss, device.id, &none).await.unwrap();
            drop(listener);
            let linked = devices.device(device.id).await.unwrap();
            assert_eq!(linked.printer_id, Some(id));
            assert_eq!(linked.last_polled, None, "due for the next round");
            devices.poll(&linked, &snmp).await.unwrap();
            printers.push(row(&server, id).await);
            continue;
        }
        let printer = server
            .services
            .printers
            .add(
                &boss,
                &PrinterForm {
                    name: name.into(),
                    uri: RAW_URI.into(),
                    ..Default::default()
                },
                &none,
            )
            .await
            .unwrap();
        assert_eq!(printer.language_reported, None, "nothing reported yet");
        server
            .services
            .db
            .set_device_printer(device.id, printer.id)
            .await
            .unwrap();
        let linked = devices.device(device.id).await.unwrap();
        devices.poll(&linked, &snmp).await.unwrap();
        printers.push(row(&server, printer.id).await);
    }
    // Best first: PostScript, PCL XL, PDF, PCL 5 (PJL and "automatic" are not
    // languages PrintPark writes); the jammed Lexmark has no interpreter table.
    assert_eq!(printers[0].language_reported.as_deref(), Some("pclxl,pcl5"));
    assert_eq!(
        printers[1].language_reported.as_deref(),
        Some("postscript,pclxl,pdf,pcl5")
    );
    assert_eq!(printers[2].language_reported, None);
    // Reported is not set: delivery uses only what the admin chose.
    assert!(printers.iter().all(|p| p.language.is_none()));

    let page = |id: i64| {
        let client = client.clone();
        let url = server.url(&format!("/admin/printers/{id}"));
        async move { get_text(&client, url).await }
    };
    let mono = page(printers[0].id).await;
    assert!(
        mono.contains("The printer reports: PCL XL, PCL 5 — <strong>use PCL XL</strong>."),
        "{mono}"
    );
    assert!(!mono.contains("id=\"raw-language-warning\""));
    let mfp = page(printers[1].id).await;
    assert!(
        mfp.contains(
            "The printer reports: PostScript, PCL XL, PDF, PCL 5 — <strong>use PostScript</strong>."
        ),
        "{mfp}"
    );
    let annex = page(printers[2].id).await;
    assert!(!annex.contains("id=\"language-proposal\""), "{annex}");
    assert!(annex.contains("id=\"raw-language-warning\""), "{annex}");

    // Once the admin chose, the proposal gives way to the setting.
    let detail = format!("/admin/printers/{}", printers[1].id);
    let saved = post_printer(
        &server,
        &client,
        &detail,
        &detail,
        &settings_of("Finance MFP", RAW_URI, "pclxl"),
    )
    .await;
    assert_eq!(saved.status(), 303);
    let mfp = page(printers[1].id).await;
    assert!(!mfp.contains("id=\"language-proposal\""), "{mfp}");
    assert!(mfp.contains("The printer reports (SNMP): PostScript, PCL XL, PDF, PCL 5"));
}

#[tokio::test]
async fn printer_pages_say_what_each_printer_takes_and_what_printpark_sends_it() {
    let raster_only = TestPrinter::start(
        PrinterOptions::named("raster-only").formats(&["image/pwg-raster", "image/x-vendor"]),
    )
    .await;
    let pdf = TestPrinter::start(PrinterOptions::named("pdf").formats(&["application/pdf"])).await;
    let (server, client) = admin_server().await;
    let mut ids = Vec::new();
    for (name, uri, language) in [
        ("Raster only", raster_only.uri(), ""),
        ("PDF printer", pdf.uri(), ""),
        ("Raw PostScript", RAW_URI.to_string(), "postscript"),
    ] {
        let added = post_printer(
            &server,
            &client,
            "/admin/printers",
            "/admin/printers",
            &settings_of(name, &uri, language),
        )
        .await;
        assert_eq!(added.status(), 303, "{name}");
        ids.push(id_of(added.headers()["location"].to_str().unwrap()));
    }
    let page = |id: i64| {
        let client = client.clone();
        let url = server.url(&format!("/admin/printers/{id}"));
        async move { get_text(&client, url).await }
    };
    let raster = page(ids[0]).await;
    // Known formats by name (their MIME type beside), others as they are.
    assert!(
        raster.contains("<abbr title=\"image/pwg-raster\">PWG raster</abbr>"),
        "{raster}"
    );
    assert!(raster.contains("<code>image/x-vendor</code>"), "{raster}");
    assert!(
        raster.contains("PWG raster at 300 dpi (converted)"),
        "{raster}"
    );
    let pdf_page = page(ids[1]).await;
    assert!(
        pdf_page.contains("<abbr title=\"application/pdf\">PDF</abbr>"),
        "{pdf_page}"
    );
    assert!(pdf_page.contains("PDF as it is"), "{pdf_page}");
    let raw = page(ids[2]).await;
    assert!(
        raw.contains("PostScript (converted), its printer language"),
        "{raw}"
    );
    // The list says it too, one line each.
    let list = get_text(&client, server.url("/admin/printers")).await;
    assert!(
        list.contains("sends PWG raster at 300 dpi (converted)"),
        "{list}"
    );
    assert!(list.contains("sends PDF as it is"), "{list}");
    assert!(list.contains("sends PostScript (converted), its printer language"));
}
