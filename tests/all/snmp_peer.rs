//! The SNMP test peers answer what tests/fixtures/snmp/README.md says (checked with
//! net-snmp's `snmpget`/`snmpbulkwalk`, not with PrintPark's code).

use crate::support::snmp;

use std::net::Ipv4Addr;
use std::time::Duration;

use snmp::{AgentSpec, Recording, SnmpAgents, V3User, net_snmp, v2c_answers, v3_answers};

const MONO: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const MFP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 12);
const JAM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 13);
const SWITCH: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 14);
const SECURE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 15);

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `snmpget -v2c -c public` of these OIDs: the value part of each line, in order.
async fn get_v2c(agents: &SnmpAgents, ip: Ipv4Addr, oids: &[&str]) -> Vec<String> {
    let mut a = args(&["-v2c", "-c", "public", &agents.target(ip)]);
    a.extend(args(oids));
    values(net_snmp("snmpget", &a).await)
}

fn values(output: std::process::Output) -> Vec<String> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            line.split_once(" = ")
                .expect("OID = value")
                .1
                .trim()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_five_agents_answer_their_recordings() {
    let agents = SnmpAgents::start(&[
        AgentSpec::v2c(Recording::MonoLaser, MONO).with_v3_user(V3User::sha1()),
        AgentSpec::v2c(Recording::ColourMfp, MFP),
        AgentSpec::v2c(Recording::JammedLaser, JAM),
        AgentSpec::v2c(Recording::Switch, SWITCH),
        AgentSpec::v3_only(Recording::SecureMfp, SECURE, V3User::sha256()),
    ])
    .await;
    // sysDescr, sysName, ifPhysAddress.1, hrDeviceType.1, prtGeneralSerialNumber.1,
    // prtMarkerLifeCount.1.1, hrPrinterDetectedErrorState.1
    let common = [
        "1.3.6.1.2.1.1.1.0",
        "1.3.6.1.2.1.1.5.0",
        "1.3.6.1.2.1.2.2.1.6.1",
        "1.3.6.1.2.1.25.3.2.1.2.1",
        "1.3.6.1.2.1.43.5.1.1.17.1",
        "1.3.6.1.2.1.43.10.2.1.4.1.1",
        "1.3.6.1.2.1.25.3.5.1.2.1",
    ];
    assert_eq!(
        get_v2c(&agents, MONO, &common).await,
        [
            "STRING: \"Brother HL-L5100DN series\"",
            "STRING: \"BRN-HALL-MONO\"",
            "Hex-STRING: 00 80 77 4A 10 01",
            "OID: .1.3.6.1.2.1.25.3.1.5",
            "STRING: \"E78012A1N000101\"",
            "Counter32: 48213",
            "Hex-STRING: 00",
        ]
    );
    assert_eq!(
        get_v2c(&agents, MFP, &common).await,
        [
            "STRING: \"HP Color LaserJet MFP M480f\"",
            "STRING: \"NPI3C5282\"",
            "\"\"",
            "OID: .1.3.6.1.2.1.25.3.1.5",
            "STRING: \"CNB1M4X0Q2\"",
            "Counter32: 152340",
            "Hex-STRING: 20 00",
        ]
    );
    assert_eq!(
        get_v2c(&agents, JAM, &common).await,
        [
            "STRING: \"Lexmark MS621 version MXTGW.081.215 kernel 4.11.12 All-N-1\"",
            "STRING: \"ET0021B7334403\"",
            "Hex-STRING: 00 21 B7 33 44 03",
            "OID: .1.3.6.1.2.1.25.3.1.5",
            "STRING: \"46035DHH01LC4\"",
            "Counter32: 9876",
            "Hex-STRING: 06 04",
        ]
    );
    let switch = get_v2c(&agents, SWITCH, &common).await;
    assert!(
        switch[0].starts_with("STRING: \"Cisco IOS Software, C2960"),
        "{switch:?}"
    );
    assert_eq!(switch[2], "Hex-STRING: 00 1A 2B 3C 4D 05");
    for absent in &switch[3..] {
        assert_eq!(absent, "No Such Instance currently exists at this OID");
    }

    // The colour MFP: its second interface has the MAC; five supplies by GETBULK walk;
    // vendor mono/colour meters; one alert.
    assert_eq!(
        get_v2c(
            &agents,
            MFP,
            &[
                "1.3.6.1.2.1.2.2.1.6.2",
                "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.6.0",
                "1.3.6.1.4.1.11.2.3.9.4.2.1.4.1.2.7.0",
                "1.3.6.1.2.1.43.10.2.1.6.1.1"
            ]
        )
        .await,
        [
            "Hex-STRING: 3C 52 82 11 22 02",
            "Counter32: 120000",
            "Counter32: 32340",
            "INTEGER: 4"
        ]
    );
    let walk = |ip, oid: &str| {
        let a = args(&["-v2c", "-c", "public", &agents.target(ip), oid]);
        // snmpsim pads a GETBULK that runs past its last record with endOfMibView
        // (net-snmp prints each one): a walk ends at the first.
        async move {
            let all = values(net_snmp("snmpbulkwalk", &a).await);
            all.into_iter()
                .take_while(|v| !v.starts_with("No more variables"))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        walk(MFP, "1.3.6.1.2.1.43.11.1.1.6").await,
        [
            "STRING: \"Black Cartridge HP 415A W2030A\"",
            "STRING: \"Cyan Cartridge HP 415A W2031A\"",
            "STRING: \"Magenta Cartridge HP 415A W2033A\"",
            "STRING: \"Yellow Cartridge HP 415A W2032A\"",
            "STRING: \"Maintenance Kit HP 3WT89A\"",
        ]
    );
    assert_eq!(
        walk(MFP, "1.3.6.1.2.1.43.11.1.1.9").await,
        [
            "INTEGER: 5",
            "INTEGER: 80",
            "INTEGER: 45",
            "INTEGER: 15",
            "INTEGER: 98000"
        ]
    );
    assert_eq!(
        walk(MFP, "1.3.6.1.2.1.43.11.1.1.8").await,
        [
            "INTEGER: 100",
            "INTEGER: 100",
            "INTEGER: 100",
            "INTEGER: 100",
            "INTEGER: 150000"
        ]
    );
    assert_eq!(
        walk(MFP, "1.3.6.1.2.1.43.18.1.1.7").await,
        ["INTEGER: 1104"]
    );
    assert_eq!(
        walk(MONO, "1.3.6.1.2.1.43.18.1.1").await.len(),
        0,
        "no alerts"
    );
    assert_eq!(
        walk(MONO, "1.3.6.1.2.1.43.11.1.1.9").await,
        ["INTEGER: 1860", "INTEGER: 31250"]
    );

    // The jammed laser: down, other; a critical jam alert and a tray warning.
    assert_eq!(
        get_v2c(
            &agents,
            JAM,
            &[
                "1.3.6.1.2.1.25.3.2.1.5.1",
                "1.3.6.1.2.1.25.3.5.1.1.1",
                "1.3.6.1.2.1.43.16.5.1.2.1.1"
            ]
        )
        .await,
        ["INTEGER: 5", "INTEGER: 1", "STRING: \"200 Paper Jam\""]
    );
    assert_eq!(
        walk(JAM, "1.3.6.1.2.1.43.18.1.1.2").await,
        ["INTEGER: 3", "INTEGER: 4"]
    );
    assert_eq!(
        walk(JAM, "1.3.6.1.2.1.43.18.1.1.7").await,
        ["INTEGER: 8", "INTEGER: 808"]
    );
    assert_eq!(
        walk(JAM, "1.3.6.1.2.1.43.11.1.1.9").await,
        ["INTEGER: -3", "INTEGER: -2"]
    );

    // The switch walks to its end and has no Printer-MIB at all.
    assert_eq!(walk(SWITCH, "1.3.6.1.2.1.43").await.len(), 0);

    // The v3-only device: answers authPriv SHA-256/AES-128 (context "public"), not v2c.
    let mut a = V3User::sha256().net_snmp_args();
    a.extend(args(&[
        &agents.target(SECURE),
        "1.3.6.1.2.1.43.5.1.1.17.1",
        "1.3.6.1.2.1.1.5.0",
    ]));
    assert_eq!(
        values(net_snmp("snmpget", &a).await),
        ["STRING: \"3390123456\"", "STRING: \"XRX9C934E556607\""]
    );
    let wait = Duration::from_millis(500);
    assert!(
        !v2c_answers(agents.addr(SECURE), "public", wait).await,
        "v3-only answers v2c"
    );
    assert!(v3_answers(agents.addr(SECURE), wait).await);
    let mut a = args(&[
        "-v2c",
        "-c",
        "public",
        &agents.target(SECURE),
        "1.3.6.1.2.1.1.1.0",
    ]);
    a.splice(0..0, args(&[]));
    assert!(
        !net_snmp("snmpget", &a).await.status.success(),
        "v2c to the v3-only device"
    );
    // A wrong password gets no data.
    let mut bad = V3User::sha256();
    bad.auth_password = "wrong-password".into();
    let mut a = bad.net_snmp_args();
    a.extend(args(&[&agents.target(SECURE), "1.3.6.1.2.1.1.5.0"]));
    assert!(!net_snmp("snmpget", &a).await.status.success());

    // A v2c device with a SHA-1 v3 user answers both; a wrong community gets nothing.
    let mut a = V3User::sha1().net_snmp_args();
    a.extend(args(&[&agents.target(MONO), "1.3.6.1.2.1.43.5.1.1.16.1"]));
    assert_eq!(
        values(net_snmp("snmpget", &a).await),
        ["STRING: \"Hall mono laser\""]
    );
    assert!(!v2c_answers(agents.addr(MONO), "private", wait).await);
}

#[tokio::test]
async fn agents_stop_on_drop() {
    let ip = Ipv4Addr::new(127, 0, 0, 41);
    let agents = SnmpAgents::start(&[AgentSpec::v2c(Recording::Switch, ip)]).await;
    let addr = agents.addr(ip);
    assert!(v2c_answers(addr, "public", Duration::from_millis(500)).await);
    drop(agents);
    assert!(!v2c_answers(addr, "public", Duration::from_millis(300)).await);
}
