//! Discovery against real SNMP agents (snmpsim serving recorded printers on loopback
//! addresses): every printer found with its serial, model, supplies and meters as
//! recorded, the switch classified as not a printer, the v3-only device found only
//! with its v3 user, an excluded address never contacted, bad peers survived.

use crate::support;

use std::net::Ipv4Addr;
use std::time::Duration;

use printpark::db::DiscoverySettingsRow;
use printpark::devices::NewCredential;
use printpark::identity::{ClientInfo, User};
use support::snmp::{AgentSpec, Recording, SnmpAgents, V3User};
use support::{Backend, TestServer};

const MONO: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const MFP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 12);
const JAM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 13);
const SWITCH: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 14);
const SECURE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 15);
/// In the scanned range but excluded: a UDP socket there must never hear a packet.
const EXCLUDED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 17);
/// Answers every packet with garbage.
const GARBAGE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 18);

async fn admin(server: &TestServer) -> User {
    support::create_admin(&server.services.identity).await
}

fn v2c(name: &str, community: &str) -> NewCredential {
    NewCredential {
        name: name.into(),
        version: "2c".into(),
        community: community.into(),
        ..Default::default()
    }
}

async fn configure(server: &TestServer, admin: &User, port: u16) {
    let devices = &server.services.devices;
    let client = ClientInfo::default();
    let settings = DiscoverySettingsRow {
        port: i64::from(port),
        // Generous: snmpsim is Python, and a v3 exchange (engine discovery, then the
        // authenticated request) on a loaded 2-core CI machine can take over 500 ms.
        timeout_ms: 2000,
        retries: 1,
        ..devices.settings().await.unwrap()
    };
    devices
        .save_settings(admin, &settings, &client)
        .await
        .unwrap();
    devices
        .add_range(admin, "127.0.0.0/27", false, &client)
        .await
        .unwrap();
    devices
        .add_range(admin, &EXCLUDED.to_string(), true, &client)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_scan_finds_every_printer_as_recorded_and_never_contacts_an_excluded_address() {
    let agents = SnmpAgents::start(&[
        AgentSpec::v2c(Recording::MonoLaser, MONO),
        AgentSpec::v2c(Recording::ColourMfp, MFP),
        AgentSpec::v2c(Recording::JammedLaser, JAM),
        AgentSpec::v2c(Recording::Switch, SWITCH),
        AgentSpec::v3_only(Recording::SecureMfp, SECURE, V3User::sha256()),
    ])
    .await;
    let excluded = tokio::net::UdpSocket::bind((EXCLUDED, agents.port))
        .await
        .unwrap();
    let garbage = tokio::net::UdpSocket::bind((GARBAGE, agents.port))
        .await
        .unwrap();
    let garbage_task = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        let mut answered = 0;
        while let Ok((_, from)) = garbage.recv_from(&mut buf).await {
            let _ = garbage
                .send_to(b"\x30\x03\x02\x01\xffnot snmp at all", from)
                .await;
            answered += 1;
        }
        answered
    });
    let server = TestServer::start(Backend::Sqlite).await;
    let boss = admin(&server).await;
    configure(&server, &boss, agents.port).await;
    let devices = &server.services.devices;
    devices
        .add_credential(&boss, &v2c("office", "public"), &ClientInfo::default())
        .await
        .unwrap();

    let end = devices.scan("test", None, false, &|_| {}).await.unwrap();
    assert_eq!(end.state, "done");
    assert_eq!(end.total, 29, "127.0.0.1-30 minus the excluded one");
    assert_eq!(end.probed, 29);
    assert_eq!(
        (end.printers, end.others),
        (3, 1),
        "v3-only device not found without its user: {end:?}"
    );
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(200), excluded.recv_from(&mut buf))
            .await
            .is_err(),
        "the excluded address was contacted"
    );

    let list = devices.list().await.unwrap();
    let by_ip = |ip: Ipv4Addr| {
        list.iter()
            .find(|d| d.ip == ip.to_string())
            .unwrap_or_else(|| panic!("{ip} not found: {list:?}"))
    };
    let mono = by_ip(MONO);
    assert_eq!(
        (
            mono.kind.as_str(),
            mono.serial.as_deref(),
            mono.mac.as_deref()
        ),
        (
            "printer",
            Some("E78012A1N000101"),
            Some("00:80:77:4a:10:01")
        )
    );
    assert_eq!(mono.model, "Brother HL-L5100DN series");
    assert_eq!(mono.location, "Hall, 1st floor");
    assert_eq!(mono.color, Some(false));
    assert_eq!(mono.status, "ok");
    let supplies = devices.supplies(mono.id).await.unwrap();
    assert_eq!(supplies.len(), 2);
    assert_eq!(
        (
            supplies[0].description.as_str(),
            supplies[0].max_capacity,
            supplies[0].level,
            supplies[0].percent
        ),
        ("Toner Cartridge TN-3430", Some(3000), Some(1860), Some(62))
    );
    let meters = devices.meters(mono.id, 0).await.unwrap();
    assert_eq!(meters.last().unwrap().total, Some(48213));

    let mfp = by_ip(MFP);
    assert_eq!(
        (mfp.serial.as_deref(), mfp.mac.as_deref(), mfp.color),
        (Some("CNB1M4X0Q2"), Some("3c:52:82:11:22:02"), Some(true))
    );
    assert_eq!(mfp.status, "warning");
    assert!(
        mfp.alerts.contains("Black cartridge very low"),
        "{}",
        mfp.alerts
    );
    let supplies = devices.supplies(mfp.id).await.unwrap();
    let levels: Vec<(String, Option<i64>)> = supplies
        .iter()
        .map(|s| (s.description.clone(), s.percent))
        .collect();
    assert_eq!(supplies.len(), 5, "{levels:?}");
    assert_eq!(supplies[0].percent, Some(5));
    assert_eq!(supplies[3].percent, Some(15));
    let meters = devices.meters(mfp.id, 0).await.unwrap();
    let last = meters.last().unwrap();
    assert_eq!(
        (last.total, last.mono, last.color),
        (Some(152340), Some(120000), Some(32340))
    );

    let jam = by_ip(JAM);
    assert_eq!(jam.serial.as_deref(), Some("46035DHH01LC4"));
    assert_eq!(jam.status, "error");
    assert!(
        jam.error_state.contains("jammed") && jam.error_state.contains("offline"),
        "{}",
        jam.error_state
    );
    assert!(jam.alerts.contains("Paper jam"), "{}", jam.alerts);

    let switch = by_ip(SWITCH);
    assert_eq!(switch.kind, "other");
    assert!(devices.supplies(switch.id).await.unwrap().is_empty());
    assert!(
        list.iter()
            .all(|d| d.ip != SECURE.to_string() && d.ip != GARBAGE.to_string())
    );
    // The garbage answerer was asked and did not stall the scan.
    garbage_task.abort();

    // With the v3 user configured the v3-only device is found too; the others are
    // the same devices (by serial), not new ones.
    devices
        .add_credential(
            &boss,
            &NewCredential {
                name: "secure".into(),
                version: "3".into(),
                user: "printpark".into(),
                auth_proto: "sha256".into(),
                auth_key: "authpass-1234".into(),
                priv_proto: "aes".into(),
                priv_key: "privpass-5678".into(),
                context: "public".into(),
                ..Default::default()
            },
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    let again = devices.scan("test", None, false, &|_| {}).await.unwrap();
    assert_eq!((again.printers, again.others), (4, 1), "{again:?}");
    let list2 = devices.list().await.unwrap();
    assert_eq!(list2.len(), list.len() + 1, "no duplicates: {list2:?}");
    let secure = list2.iter().find(|d| d.ip == SECURE.to_string()).unwrap();
    assert_eq!(secure.serial.as_deref(), Some("3390123456"));
    // Stored credentials never hold the community or keys in clear.
    let db_file = server.dir.path().join("printpark.db");
    let raw = std::fs::read(&db_file).unwrap_or_default();
    for secret in ["authpass-1234", "privpass-5678"] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in clear in the database"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_device_that_moved_to_another_address_is_the_same_device() {
    let first = SnmpAgents::start(&[AgentSpec::v2c(Recording::MonoLaser, MONO)]).await;
    let server = TestServer::start(Backend::Sqlite).await;
    let boss = admin(&server).await;
    let devices = &server.services.devices;
    configure(&server, &boss, first.port).await;
    devices
        .add_credential(&boss, &v2c("office", "public"), &ClientInfo::default())
        .await
        .unwrap();
    let ranges = vec!["127.0.0.11-127.0.0.12".to_string()];
    devices
        .scan("test", Some(&ranges), false, &|_| {})
        .await
        .unwrap();
    let before = devices.list().await.unwrap();
    assert_eq!(before.len(), 1);
    let port = first.port;
    drop(first);
    // The same printer (same serial and MAC) comes back on .12, same port.
    let moved = SnmpAgents::start_on_port(&[AgentSpec::v2c(Recording::MonoLaser, MFP)], port).await;
    devices
        .scan("test", Some(&ranges), false, &|_| {})
        .await
        .unwrap();
    let after = devices.list().await.unwrap();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].id, before[0].id);
    assert_eq!(after[0].ip, MFP.to_string());
    drop(moved);
    server.stop().await;
}

#[tokio::test]
async fn a_too_large_or_malformed_range_is_refused_with_a_clear_message_and_nothing_starts() {
    let server = TestServer::start(Backend::Sqlite).await;
    let boss = admin(&server).await;
    let devices = &server.services.devices;
    devices
        .add_credential(&boss, &v2c("office", "public"), &ClientInfo::default())
        .await
        .unwrap();
    let big = vec!["10.0.0.0/16".to_string()];
    let err = devices
        .scan("test", Some(&big), false, &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("confirm"), "{err}");
    let huge = vec!["10.0.0.0/8".to_string()];
    let err = devices
        .scan("test", Some(&huge), true, &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("split"), "{err}");
    assert!(
        devices.recent_scans(10).await.unwrap().is_empty(),
        "nothing was started"
    );
    let bad = devices
        .add_range(&boss, "10.0.0.0/33", false, &ClientInfo::default())
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("not a range"), "{bad}");
    server.stop().await;
}

#[tokio::test]
async fn monitoring_marks_a_printer_that_stops_answering_offline_and_keeps_supply_history() {
    let agents = SnmpAgents::start(&[AgentSpec::v2c(Recording::ColourMfp, MFP)]).await;
    let port = agents.port;
    let server = TestServer::start(Backend::Sqlite).await;
    let boss = admin(&server).await;
    let devices = &server.services.devices;
    configure(&server, &boss, port).await;
    devices
        .add_credential(&boss, &v2c("office", "public"), &ClientInfo::default())
        .await
        .unwrap();
    let ranges = vec![MFP.to_string()];
    devices
        .scan("test", Some(&ranges), false, &|_| {})
        .await
        .unwrap();
    let device = devices.list().await.unwrap().remove(0);
    let snmp = printpark::devices::Devices::snmp_settings(&devices.settings().await.unwrap());
    drop(agents);
    devices.poll(&device, &snmp).await.unwrap();
    assert_eq!(devices.device(device.id).await.unwrap().status, "offline");
    let back = SnmpAgents::start_on_port(&[AgentSpec::v2c(Recording::ColourMfp, MFP)], port).await;
    devices.poll(&device, &snmp).await.unwrap();
    let polled = devices.device(device.id).await.unwrap();
    assert_eq!(polled.status, "warning", "back, with its low black toner");
    let history = devices.supply_history(device.id, 0).await.unwrap();
    assert_eq!(history.len(), 10, "two reads of five supplies: {history:?}");
    assert_eq!(
        devices.meters(device.id, 0).await.unwrap().len(),
        1,
        "meters once a day"
    );
    drop(back);
    server.stop().await;
}

#[tokio::test]
async fn printpark_discover_scans_from_the_command_line_and_prints_what_it_found() {
    let agents = SnmpAgents::start(&[
        AgentSpec::v2c(Recording::MonoLaser, MONO),
        AgentSpec::v2c(Recording::Switch, SWITCH),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    {
        let settings = printpark::config::Settings {
            data_dir: dir.path().join("data"),
            ..Default::default()
        };
        let services = printpark::services::Services::start(settings)
            .await
            .unwrap();
        let boss = support::create_admin(&services.identity).await;
        let s = DiscoverySettingsRow {
            port: i64::from(agents.port),
            ..services.devices.settings().await.unwrap()
        };
        services
            .devices
            .save_settings(&boss, &s, &ClientInfo::default())
            .await
            .unwrap();
        services.db.close().await;
    }
    let out = tokio::process::Command::new(support::binary())
        .args(["discover", "127.0.0.10-127.0.0.15", "--community", "public"])
        .current_dir(dir.path())
        .env("PRINTPARK_LOG__LEVEL", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("6 of 6 addresses probed")
            && stdout.contains("1 printer(s), 1 other device(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("E78012A1N000101") && stdout.contains("00:80:77:4a:10:01"),
        "{stdout}"
    );
    assert!(stderr.contains("6/6 addresses"), "progress shown: {stderr}");
    // A range that is too large is refused with the reason, and nothing is scanned.
    let refused = tokio::process::Command::new(support::binary())
        .args(["discover", "10.0.0.0/16", "--community", "public"])
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("confirm"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[tokio::test]
async fn a_running_scan_shows_its_progress_and_can_be_cancelled() {
    let server = TestServer::start(Backend::Sqlite).await;
    let boss = admin(&server).await;
    let devices = &server.services.devices;
    let client = ClientInfo::default();
    // Slow on purpose: 20 probes a second over 200 addresses where nobody answers.
    let settings = DiscoverySettingsRow {
        rate_pps: 20,
        port: i64::from(support::free_port()),
        ..devices.settings().await.unwrap()
    };
    devices
        .save_settings(&boss, &settings, &client)
        .await
        .unwrap();
    devices
        .add_range(&boss, "127.0.3.1-127.0.3.200", false, &client)
        .await
        .unwrap();
    devices
        .add_credential(&boss, &v2c("office", "public"), &client)
        .await
        .unwrap();
    devices.start_scan(&boss, false, &client).await.unwrap();
    let running = loop {
        let scans = devices.recent_scans(1).await.unwrap();
        if let Some(scan) = scans.first().filter(|s| s.probed > 0) {
            break scan.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((running.state.as_str(), running.total), ("running", 200));
    // The admin page shows it running, refreshes itself and offers to cancel it.
    let browser = server.client();
    support::login(&server, &browser, "boss", "correct horse battery").await;
    let page = support::get_text(&browser, server.url("/admin/discovery")).await;
    assert!(
        page.contains("http-equiv=\"refresh\"") && page.contains("Cancel the scan"),
        "{page}"
    );
    // A second scan waits for this one.
    let busy = devices.start_scan(&boss, false, &client).await.unwrap_err();
    assert!(busy.to_string().contains("already running"), "{busy}");
    devices
        .cancel_scan(&boss, running.id, &client)
        .await
        .unwrap();
    let ended = loop {
        let scan = devices
            .recent_scans(5)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.id == running.id)
            .unwrap();
        if scan.state != "running" {
            break scan;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ended.state, "cancelled");
    assert!(ended.probed < 200, "stopped early: {ended:?}");
    assert!(
        ended.packets <= 2 * ended.probed + 40,
        "at most two packets per silent address (+ in flight): {ended:?}"
    );
    server.stop().await;
}
