//! `devices::snmp` and `devices::collect` against real SNMP agents (snmpsim serving the
//! recordings of tests/fixtures/snmp, whose README.md lists every value asserted here)
//! and against small fake agents written below: one that answers garbage, one that
//! never answers, and one whose walks never end.

use crate::support::snmp;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use printpark::convert::PrinterLanguage;
use printpark::devices::collect::{Alert, DeviceReport, DeviceStatus, Meters, Supply, collect};
use printpark::devices::snmp::{
    AuthProto, PrivProto, Prober, SnmpCredential, SnmpError, SnmpSettings,
};
use snmp::{AgentSpec, Recording, SnmpAgents, V3User};

fn public() -> SnmpCredential {
    SnmpCredential::V2c {
        community: "public".into(),
    }
}

fn v3_printpark() -> SnmpCredential {
    SnmpCredential::V3 {
        user: "printpark".into(),
        auth: Some((AuthProto::Sha256, "authpass-1234".into())),
        privacy: Some((PrivProto::Aes128, "privpass-5678".into())),
        context: "public".into(),
    }
}

fn settings(port: u16) -> SnmpSettings {
    SnmpSettings {
        port,
        ..SnmpSettings::default()
    }
}

/// Starts one agent serving `recording` on `ip` and collects it with `cred`.
async fn collected(spec: AgentSpec, cred: &SnmpCredential) -> (DeviceReport, SnmpAgents) {
    let ip = spec.ip;
    let agents = SnmpAgents::start(&[spec]).await;
    let prober = Prober::new(settings(agents.port)).await.expect("prober");
    let session = prober.session(IpAddr::V4(ip), cred).await.expect("session");
    let report = collect(&session)
        .await
        .unwrap_or_else(|e| panic!("collect {ip}: {e}\n{}", agents.logs()));
    assert!(report.incomplete.is_empty(), "{:?}", report.incomplete);
    (report, agents)
}

#[allow(clippy::too_many_arguments)]
fn supply(
    index: i64,
    description: &str,
    kind: &str,
    unit: &str,
    max_capacity: Option<i64>,
    level: Option<i64>,
    some_remaining: bool,
    percent: Option<u8>,
    colorant: Option<&str>,
) -> Supply {
    Supply {
        index,
        description: description.into(),
        kind: kind.into(),
        unit: unit.into(),
        max_capacity,
        level,
        some_remaining,
        percent,
        colorant: colorant.map(str::to_owned),
    }
}

fn alert(index: i64, severity: &str, group: &str, code: i64, name: &str, text: &str) -> Alert {
    Alert {
        index,
        severity: severity.into(),
        group: group.into(),
        code,
        code_name: name.into(),
        description: text.into(),
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn mono_laser_is_collected_as_recorded() {
    let ip = Ipv4Addr::new(127, 0, 7, 11);
    let (r, agents) = collected(AgentSpec::v2c(Recording::MonoLaser, ip), &public()).await;
    let expected = DeviceReport {
        is_printer: true,
        mac: Some("00:80:77:4a:10:01".into()),
        manufacturer: "Brother".into(),
        model: "Brother HL-L5100DN series".into(),
        description: "Brother HL-L5100DN series".into(),
        sys_name: "BRN-HALL-MONO".into(),
        sys_object_id: "1.3.6.1.4.1.2435.2.3.9.1".into(),
        serial: Some("E78012A1N000101".into()),
        asset: None,
        location: "Hall, 1st floor".into(),
        contact: "it-desk@example.org".into(),
        firmware: None,
        color: Some(false),
        languages: vec![PrinterLanguage::PclXl, PrinterLanguage::Pcl5],
        status: DeviceStatus::Ok,
        error_state: vec![],
        display: strings(&["Ready"]),
        supplies: vec![
            supply(
                1,
                "Toner Cartridge TN-3430",
                "tonerCartridge",
                "impressions",
                Some(3000),
                Some(1860),
                false,
                Some(62),
                None,
            ),
            supply(
                2,
                "Drum Unit DR-3400",
                "opc",
                "impressions",
                Some(50000),
                Some(31250),
                false,
                Some(62),
                None,
            ),
        ],
        alerts: vec![],
        meters: Meters {
            total: Some(48213),
            mono: None,
            color: None,
        },
        incomplete: vec![],
    };
    assert_eq!(r, expected);
    drop(agents);
}

#[tokio::test]
async fn colour_mfp_is_collected_as_recorded() {
    let ip = Ipv4Addr::new(127, 0, 7, 12);
    let (r, _agents) = collected(AgentSpec::v2c(Recording::ColourMfp, ip), &public()).await;
    let toner = |i, name: &str, level, colour| {
        supply(
            i,
            name,
            "toner",
            "percent",
            Some(100),
            Some(level),
            false,
            Some(level as u8),
            Some(colour),
        )
    };
    let expected = DeviceReport {
        is_printer: true,
        mac: Some("3c:52:82:11:22:02".into()),
        manufacturer: "HP".into(),
        model: "HP Color LaserJet MFP M480f".into(),
        description: "HP Color LaserJet MFP M480f".into(),
        sys_name: "NPI3C5282".into(),
        sys_object_id: "1.3.6.1.4.1.11.2.3.9.1".into(),
        serial: Some("CNB1M4X0Q2".into()),
        asset: None,
        location: "Finance, 2nd floor, room 204".into(),
        contact: "Facilities <facilities@example.org>".into(),
        firmware: None,
        color: Some(true),
        languages: vec![
            PrinterLanguage::PostScript,
            PrinterLanguage::PclXl,
            PrinterLanguage::Pdf,
            PrinterLanguage::Pcl5,
        ],
        status: DeviceStatus::Warning,
        error_state: strings(&["lowToner"]),
        display: strings(&["Ready", "Black cartridge very low"]),
        supplies: vec![
            toner(1, "Black Cartridge HP 415A W2030A", 5, "black"),
            toner(2, "Cyan Cartridge HP 415A W2031A", 80, "cyan"),
            toner(3, "Magenta Cartridge HP 415A W2033A", 45, "magenta"),
            toner(4, "Yellow Cartridge HP 415A W2032A", 15, "yellow"),
            supply(
                5,
                "Maintenance Kit HP 3WT89A",
                "other",
                "impressions",
                Some(150000),
                Some(98000),
                false,
                Some(65),
                None,
            ),
        ],
        alerts: vec![alert(
            1,
            "warning",
            "markerSupplies",
            1104,
            "markerTonerAlmostEmpty",
            "Black cartridge very low",
        )],
        meters: Meters {
            total: Some(152340),
            mono: Some(120000),
            color: Some(32340),
        },
        incomplete: vec![],
    };
    assert_eq!(r, expected);
}

#[tokio::test]
async fn jammed_laser_is_collected_as_recorded() {
    let ip = Ipv4Addr::new(127, 0, 7, 13);
    let (r, _agents) = collected(AgentSpec::v2c(Recording::JammedLaser, ip), &public()).await;
    let expected = DeviceReport {
        is_printer: true,
        mac: Some("00:21:b7:33:44:03".into()),
        manufacturer: "Lexmark".into(),
        model: "Lexmark MS621".into(),
        description: "Lexmark MS621 version MXTGW.081.215 kernel 4.11.12 All-N-1".into(),
        sys_name: "ET0021B7334403".into(),
        sys_object_id: "1.3.6.1.4.1.641.6.1.2.1".into(),
        serial: Some("46035DHH01LC4".into()),
        asset: None,
        location: "Annex, print room".into(),
        contact: String::new(),
        firmware: Some("MXTGW.081.215".into()),
        color: Some(false),
        languages: vec![],
        status: DeviceStatus::Error,
        error_state: strings(&["jammed", "offline", "inputTrayEmpty"]),
        display: strings(&["200 Paper Jam", "Remove tray 1"]),
        supplies: vec![
            supply(
                1,
                "Black Toner",
                "tonerCartridge",
                "percent",
                Some(100),
                None,
                true,
                None,
                None,
            ),
            supply(
                2,
                "Imaging Unit",
                "opc",
                "impressions",
                Some(60000),
                None,
                false,
                None,
                None,
            ),
        ],
        alerts: vec![
            alert(
                1,
                "critical",
                "mediaPath",
                8,
                "jam",
                "200.01 Paper jam, remove tray 1",
            ),
            alert(
                2,
                "warning",
                "input",
                808,
                "inputMediaSupplyEmpty",
                "Tray 2 empty",
            ),
        ],
        meters: Meters {
            total: Some(9876),
            mono: None,
            color: None,
        },
        incomplete: vec![],
    };
    assert_eq!(r, expected);
}

#[tokio::test]
async fn the_switch_is_not_a_printer() {
    let ip = Ipv4Addr::new(127, 0, 7, 14);
    let (r, agents) = collected(AgentSpec::v2c(Recording::Switch, ip), &public()).await;
    let expected = DeviceReport {
        is_printer: false,
        mac: Some("00:1a:2b:3c:4d:05".into()),
        manufacturer: "Cisco".into(),
        model: String::new(),
        description: "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 15.0(2)SE11, RELEASE SOFTWARE (fc3)".into(),
        sys_name: "core-sw-01".into(),
        sys_object_id: "1.3.6.1.4.1.9.1.1208".into(),
        serial: None,
        asset: None,
        location: "Server room rack 3".into(),
        contact: "netops@example.org".into(),
        firmware: Some("15.0(2)SE11".into()),
        color: None,
        languages: vec![],
        status: DeviceStatus::Unknown,
        error_state: vec![],
        display: vec![],
        supplies: vec![],
        alerts: vec![],
        meters: Meters::default(),
        incomplete: vec![],
    };
    assert_eq!(r, expected);

    let prober = Prober::new(settings(agents.port)).await.unwrap();
    let answer = prober.probe(IpAddr::V4(ip), &public()).await.unwrap();
    assert!(!answer.is_printer);
    assert_eq!(answer.sys_object_id, "1.3.6.1.4.1.9.1.1208");
    assert!(answer.sys_descr.starts_with("Cisco IOS Software, C2960"));
}

#[tokio::test]
async fn the_v3_only_mfp_answers_the_v3_user_only() {
    let ip = Ipv4Addr::new(127, 0, 7, 15);
    let (r, agents) = collected(
        AgentSpec::v3_only(Recording::SecureMfp, ip, V3User::sha256()),
        &v3_printpark(),
    )
    .await;
    let expected = DeviceReport {
        is_printer: true,
        mac: Some("9c:93:4e:55:66:07".into()),
        manufacturer: "Xerox".into(),
        model: "Xerox VersaLink B405 MFP".into(),
        description: "Xerox VersaLink B405 MFP; SS 1.2.3, Controller ROM 1.10.1".into(),
        sys_name: "XRX9C934E556607".into(),
        sys_object_id: "1.3.6.1.4.1.253.8.62.1.34.7.2.1".into(),
        serial: Some("3390123456".into()),
        asset: None,
        location: "Legal, 3rd floor".into(),
        contact: "legal-it@example.org".into(),
        firmware: Some("SS 1.2.3, Controller ROM 1.10.1".into()),
        color: Some(false),
        languages: vec![],
        status: DeviceStatus::Ok,
        error_state: vec![],
        display: strings(&["Ready to print"]),
        supplies: vec![supply(
            1,
            "Black Toner Cartridge 106R03581",
            "toner",
            "impressions",
            Some(13900),
            Some(6950),
            false,
            Some(50),
            None,
        )],
        alerts: vec![],
        meters: Meters {
            total: Some(7777),
            mono: None,
            color: None,
        },
        incomplete: vec![],
    };
    assert_eq!(r, expected);

    let fast = SnmpSettings {
        timeout: Duration::from_millis(300),
        ..settings(agents.port)
    };
    let prober = Prober::new(fast).await.unwrap();
    let answer = prober.probe(IpAddr::V4(ip), &v3_printpark()).await.unwrap();
    assert!(answer.is_printer);
    assert_eq!(
        prober.probe(IpAddr::V4(ip), &public()).await,
        Err(SnmpError::Timeout),
        "v2c gets silence from a v3-only agent"
    );
    let wrong = SnmpCredential::V3 {
        user: "printpark".into(),
        auth: Some((AuthProto::Sha256, "wrong-password".into())),
        privacy: Some((PrivProto::Aes128, "privpass-5678".into())),
        context: "public".into(),
    };
    let refused = prober.probe(IpAddr::V4(ip), &wrong).await;
    assert!(
        matches!(
            refused,
            Err(SnmpError::Refused(_)) | Err(SnmpError::Timeout)
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn probes_tell_printers_and_count_packets() {
    let mono = Ipv4Addr::new(127, 0, 7, 21);
    let mfp = Ipv4Addr::new(127, 0, 7, 22);
    let agents = SnmpAgents::start(&[
        AgentSpec::v2c(Recording::MonoLaser, mono),
        AgentSpec::v2c(Recording::ColourMfp, mfp),
    ])
    .await;
    let prober = Prober::new(settings(agents.port)).await.unwrap();
    for ip in [mono, mfp] {
        let answer = prober.probe(IpAddr::V4(ip), &public()).await.unwrap();
        assert!(answer.is_printer, "{ip}");
    }
    assert_eq!(
        prober
            .probe(IpAddr::V4(mono), &public())
            .await
            .unwrap()
            .sys_descr,
        "Brother HL-L5100DN series"
    );
    assert!(prober.packets_sent() >= 6);
    // A wrong community: silence, like a real device.
    let fast = SnmpSettings {
        timeout: Duration::from_millis(200),
        ..settings(agents.port)
    };
    let prober = Prober::new(fast).await.unwrap();
    let wrong = SnmpCredential::V2c {
        community: "private".into(),
    };
    assert_eq!(
        prober.probe(IpAddr::V4(mono), &wrong).await,
        Err(SnmpError::Timeout)
    );
    assert_eq!(prober.packets_sent(), 2);
}

#[test]
fn credentials_never_show_their_secrets() {
    let text = format!(
        "{:?} {:?} {:?}",
        SnmpCredential::V2c {
            community: "s3cret-v2c".into()
        },
        v3_printpark(),
        SnmpCredential::V1 {
            community: "s3cret-v1".into()
        }
    );
    for secret in ["s3cret-v2c", "authpass-1234", "privpass-5678", "s3cret-v1"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("printpark") && text.contains("sha256") && text.contains("aes"));
    assert_eq!("SHA-256".parse::<AuthProto>().unwrap(), AuthProto::Sha256);
    assert_eq!("sha".parse::<AuthProto>().unwrap().as_str(), "sha");
    assert_eq!("aes".parse::<PrivProto>().unwrap(), PrivProto::Aes128);
    assert!("md5".parse::<AuthProto>().is_err());
    assert!("des".parse::<PrivProto>().is_err());
}

// ---------------------------------------------------------------------------------
// Fake agents: a UDP socket on 127.0.0.1 and a task answering (or not) each datagram.

/// A fake agent: its address, and how many datagrams it received.
struct FakeAgent {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn fake_agent(answer: fn(&[u8]) -> Option<Vec<u8>>) -> FakeAgent {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            counter.fetch_add(1, Ordering::Relaxed);
            if let Some(reply) = answer(&buf[..n]) {
                let _ = socket.send_to(&reply, peer).await;
            }
        }
    });
    FakeAgent {
        addr,
        received,
        task,
    }
}

fn quick(port: u16) -> SnmpSettings {
    SnmpSettings {
        port,
        timeout: Duration::from_millis(300),
        retries: 1,
        ..SnmpSettings::default()
    }
}

#[tokio::test]
async fn a_silent_address_costs_retries_plus_one_packets_and_times_out() {
    let agent = fake_agent(|_| None).await;
    let s = quick(agent.addr.port());
    let bound = s.timeout * (s.retries + 1);
    let prober = Prober::new(s).await.unwrap();
    let started = Instant::now();
    let result = prober.probe(agent.addr.ip(), &public()).await;
    let elapsed = started.elapsed();
    assert_eq!(result, Err(SnmpError::Timeout));
    assert!(elapsed >= bound - Duration::from_millis(50), "{elapsed:?}");
    assert!(elapsed <= bound + Duration::from_millis(250), "{elapsed:?}");
    assert_eq!(prober.packets_sent(), 2);
    assert_eq!(agent.received.load(Ordering::Relaxed), 2);

    // The same with three retries: four packets.
    let prober = Prober::new(SnmpSettings {
        retries: 3,
        timeout: Duration::from_millis(100),
        ..quick(agent.addr.port())
    })
    .await
    .unwrap();
    assert_eq!(
        prober.probe(agent.addr.ip(), &public()).await,
        Err(SnmpError::Timeout)
    );
    assert_eq!(prober.packets_sent(), 4);
}

#[tokio::test]
async fn garbage_answers_end_quickly() {
    let noise = fake_agent(|_| Some(b"\x00\xffthis is not SNMP at all\x30\x84".to_vec())).await;
    // Well-formed BER, but the request itself sent back (a GetRequest, not a Response).
    let echo = fake_agent(|request| Some(request.to_vec())).await;
    // A Response that breaks off in the middle of the varbinds.
    let truncated = fake_agent(|request| {
        let reply = response_to(request)?;
        Some(reply[..reply.len() - 5].to_vec())
    })
    .await;
    for agent in [&noise, &echo, &truncated] {
        let s = quick(agent.addr.port());
        let bound = s.timeout * (s.retries + 1) + Duration::from_millis(250);
        let prober = Prober::new(s).await.unwrap();
        let started = Instant::now();
        let result = prober.probe(agent.addr.ip(), &public()).await;
        assert!(
            matches!(result, Err(SnmpError::Garbage(_)) | Err(SnmpError::Timeout)),
            "{result:?}"
        );
        assert!(started.elapsed() <= bound, "{:?}", started.elapsed());
        let session = prober.session(agent.addr.ip(), &public()).await.unwrap();
        let result = collect(&session).await;
        assert!(
            matches!(result, Err(SnmpError::Garbage(_)) | Err(SnmpError::Timeout)),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_walk_that_never_ends_is_cut_by_rows() {
    let agent = fake_agent(endless).await;
    let prober = Prober::new(SnmpSettings {
        max_walk_rows: 120,
        ..quick(agent.addr.port())
    })
    .await
    .unwrap();
    let session = prober.session(agent.addr.ip(), &public()).await.unwrap();
    let started = Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(20), collect(&session))
        .await
        .expect("collect returns")
        .expect("collect succeeds with what it read");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(report.is_printer);
    assert!(
        report
            .incomplete
            .iter()
            .any(|note| note.starts_with("1.3.6.1.2.1.43.11.1.1: stopped after 120 rows")),
        "{:?}",
        report.incomplete
    );
    assert!(report.supplies.len() <= 120);
    // Values of the wrong type count as missing: the fake answers sysDescr with text
    // but sysObjectID with text too.
    assert_eq!(report.description, "endless agent");
    assert_eq!(report.sys_object_id, "");
}

#[tokio::test]
async fn a_walk_that_never_ends_is_cut_by_time() {
    let agent = fake_agent(endless).await;
    let prober = Prober::new(SnmpSettings {
        max_walk_rows: usize::MAX,
        max_walk_time: Duration::from_millis(150),
        ..quick(agent.addr.port())
    })
    .await
    .unwrap();
    let session = prober.session(agent.addr.ip(), &public()).await.unwrap();
    let walk = session
        .walk(&[1, 3, 6, 1, 2, 1, 43, 11, 1, 1])
        .await
        .unwrap();
    let cut = walk.cut.expect("the walk is cut");
    assert!(cut.starts_with("stopped after 150ms"), "{cut}");
    assert!(walk.rows.len() > 25, "{}", walk.rows.len());
    let started = Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(20), collect(&session))
        .await
        .expect("collect returns")
        .expect("collect succeeds with what it read");
    // Nine walks, each at most 150 ms (plus one answer in flight).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(report.incomplete.len() >= 8, "{:?}", report.incomplete);
}

// --- A tiny BER codec, enough for the fake agents -----------------------------------

/// Answers GET with OCTET STRING "endless agent" for every OID, and GETNEXT/GETBULK with
/// OIDs that grow by one forever inside whatever subtree was asked.
fn endless(request: &[u8]) -> Option<Vec<u8>> {
    let parsed = parse_request(request)?;
    let mut bindings = Vec::new();
    match parsed.pdu_tag {
        0xa0 => {
            for oid in &parsed.oids {
                bindings.push((oid.clone(), tlv(0x04, b"endless agent")));
            }
        }
        0xa1 | 0xa5 => {
            let count = if parsed.pdu_tag == 0xa5 {
                parsed.max_repetitions.clamp(1, 50)
            } else {
                1
            };
            let mut oid = parsed.oids.first()?.clone();
            for _ in 0..count {
                oid = next_oid(&oid);
                bindings.push((oid.clone(), tlv(0x02, &[1])));
            }
        }
        _ => return None,
    }
    Some(response(&parsed, &bindings))
}

/// A correct-looking Response to a GET (values: INTEGER 1).
fn response_to(request: &[u8]) -> Option<Vec<u8>> {
    let parsed = parse_request(request)?;
    let bindings: Vec<_> = parsed
        .oids
        .iter()
        .map(|oid| (oid.clone(), tlv(0x02, &[1])))
        .collect();
    Some(response(&parsed, &bindings))
}

/// Deeper and deeper, then one greater: always after `oid`, always inside its subtree.
fn next_oid(oid: &[u32]) -> Vec<u32> {
    let mut next = oid.to_vec();
    if next.len() < 16 {
        next.resize(16, 1);
    } else if let Some(last) = next.last_mut() {
        *last += 1;
    }
    next
}

struct Request {
    community: Vec<u8>,
    pdu_tag: u8,
    request_id: Vec<u8>,
    max_repetitions: usize,
    oids: Vec<Vec<u32>>,
}

fn parse_request(data: &[u8]) -> Option<Request> {
    let (0x30, message, _) = read_tlv(data)? else {
        return None;
    };
    let (0x02, _version, rest) = read_tlv(message)? else {
        return None;
    };
    let (0x04, community, rest) = read_tlv(rest)? else {
        return None;
    };
    let (pdu_tag, pdu, _) = read_tlv(rest)?;
    let (0x02, request_id, rest) = read_tlv(pdu)? else {
        return None;
    };
    let (_, _non_repeaters, rest) = read_tlv(rest)?;
    let (_, max_repetitions, rest) = read_tlv(rest)?;
    let (0x30, mut list, _) = read_tlv(rest)? else {
        return None;
    };
    let mut oids = Vec::new();
    while !list.is_empty() {
        let (_, binding, rest) = read_tlv(list)?;
        let (0x06, oid, _) = read_tlv(binding)? else {
            return None;
        };
        oids.push(decode_oid(oid));
        list = rest;
    }
    Some(Request {
        community: community.to_vec(),
        pdu_tag,
        request_id: request_id.to_vec(),
        max_repetitions: max_repetitions
            .iter()
            .fold(0usize, |n, b| (n << 8) | usize::from(*b)),
        oids,
    })
}

fn response(request: &Request, bindings: &[(Vec<u32>, Vec<u8>)]) -> Vec<u8> {
    let list: Vec<u8> = bindings
        .iter()
        .flat_map(|(oid, value)| tlv(0x30, &[tlv(0x06, &encode_oid(oid)), value.clone()].concat()))
        .collect();
    let pdu = [
        tlv(0x02, &request.request_id),
        tlv(0x02, &[0]),
        tlv(0x02, &[0]),
        tlv(0x30, &list),
    ]
    .concat();
    tlv(
        0x30,
        &[
            tlv(0x02, &[1]),
            tlv(0x04, &request.community),
            tlv(0xa2, &pdu),
        ]
        .concat(),
    )
}

/// (tag, content, rest) of the first TLV in `data`.
fn read_tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *data.first()?;
    let first = *data.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        let bytes = data.get(2..2 + n)?;
        (
            bytes
                .iter()
                .fold(0usize, |len, b| (len << 8) | usize::from(*b)),
            2 + n,
        )
    };
    let content = data.get(header..header + len)?;
    Some((tag, content, &data[header + len..]))
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n @ 0..=127 => out.push(n as u8),
        n @ 128..=255 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

fn decode_oid(bytes: &[u8]) -> Vec<u32> {
    let mut arcs = Vec::new();
    let mut value = 0u32;
    for (i, b) in bytes.iter().enumerate() {
        value = (value << 7) | u32::from(b & 0x7f);
        if b & 0x80 == 0 {
            if i == 0 || arcs.is_empty() {
                arcs.push(value / 40);
                arcs.push(value % 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs
}

fn encode_oid(arcs: &[u32]) -> Vec<u8> {
    let mut out = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for arc in &arcs[2..] {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(((rest & 0x7f) as u8) | 0x80);
            rest >>= 7;
        }
        chunk.reverse();
        out.extend(chunk);
    }
    out
}
