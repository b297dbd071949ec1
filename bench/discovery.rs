//! Discovery benchmark (issue 6): scan a /24 and a /22 in which 20 addresses answer
//! SNMP and every other address is silent (its datagrams dropped, not refused), with
//! PrintPark's engine in-process, then the same addresses with `nmap -sU -p161 --script
//! snmp-info` (at its defaults and at `-T4`) and with a loop of net-snmp `snmpbulkwalk`
//! processes. Prints wall time, packets sent (counted by nftables, for every scanner
//! alike) and packets per silent address, and checks what each one found.
//!
//! `cargo bench --bench discovery [-- options]`; needs root (a network namespace of its
//! own: the binary re-executes itself under `unshare -n`), `nft` (Debian `nftables`),
//! `snmpsim-command-responder` (PyPI `snmpsim`), and for the peers `nmap` and
//! `snmpbulkwalk` (Debian `nmap`, `snmp`; missing ones are skipped and the output says
//! so). Options: `--ranges 24,22`, `--no-nmap`, `--no-t4`, `--no-loop`,
//! `--loop-parallel N` (64), `--runs N` (PrintPark runs per range, 1).
//!
//! Inside the namespace: `lo` up; 20 snmpsim agents per range on UDP port 161 (the
//! product's default port, and the only one nmap's `snmp-info` script probes); an
//! nftables input chain that lets UDP 161 through to the agents' addresses and drops it
//! for every other address of 127/8 (on loopback a closed port is refused at once by
//! an ICMP port unreachable, which would flatter every scanner), counting packets per
//! destination address (a dynamic set with counters) and in total.
//!
//! The agents serve the recordings of `tests/fixtures/snmp` in turn (mono-laser,
//! colour-mfp, jammed-laser, switch: 15 printers and 5 other devices), each with a
//! serial number and MACs of its own (PrintPark keys devices by serial, then MAC: 20
//! copies of one recording would be 4 devices, not 20).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark that cannot go on stops with the reason"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use printpark::db::DiscoverySettingsRow;
use printpark::devices::NewCredential;
use printpark::devices::snmp::{Prober, SnmpCredential, SnmpSettings};
use printpark::identity::{ClientInfo, NewUserRequest};
use rustix::process::{Pid, Signal, kill_process_group};

const NETNS_ENV: &str = "PP_BENCH_NETNS";
const TABLE: &str = "ppbench";
const AGENTS: usize = 20;
const RECORDINGS: [&str; 4] = ["mono-laser", "colour-mfp", "jammed-laser", "switch"];

struct Options {
    ranges: Vec<u8>,
    nmap: bool,
    t4: bool,
    lp: bool,
    loop_parallel: usize,
    runs: usize,
}

fn options() -> Options {
    let mut o = Options {
        ranges: vec![24, 22],
        nmap: true,
        t4: true,
        lp: true,
        loop_parallel: 64,
        runs: 1,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--ranges" => {
                o.ranges = value(i)
                    .split(',')
                    .map(|s| s.trim().parse().expect("--ranges 24,22"))
                    .collect();
                assert!(
                    o.ranges.iter().all(|b| [22, 23, 24].contains(b)),
                    "--ranges: 22, 23 or 24"
                );
                i += 1;
            }
            "--no-nmap" => o.nmap = false,
            "--no-t4" => o.t4 = false,
            "--no-loop" => o.lp = false,
            "--loop-parallel" => {
                o.loop_parallel = value(i).parse().expect("--loop-parallel N");
                i += 1;
            }
            "--runs" => {
                o.runs = value(i).parse().expect("--runs N");
                i += 1;
            }
            _ => {} // --bench and whatever else cargo passes
        }
        i += 1;
    }
    o
}

fn main() {
    if std::env::var_os(NETNS_ENV).is_none() {
        if !rustix::process::getuid().is_root() {
            eprintln!(
                "the discovery bench needs root: it runs in a network namespace of its own (unshare -n) with an nftables drop rule"
            );
            std::process::exit(2);
        }
        // Re-run this binary in a fresh network namespace (loopback only).
        let exe = std::env::current_exe().expect("current_exe");
        let error = Command::new("unshare")
            .arg("-n")
            .arg("--")
            .arg(exe)
            .args(std::env::args_os().skip(1))
            .env(NETNS_ENV, "1")
            .exec();
        eprintln!("unshare -n: {error} (util-linux)");
        std::process::exit(2);
    }
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(options));
}

// --- the network namespace ----------------------------------------------------------

fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `lo` up, and the nftables table: UDP 161 accepted to `answering`, dropped (no ICMP
/// answer) to any other 127/8 address, every packet counted per destination.
fn setup_netns(answering: &[Ipv4Addr]) {
    sh("ip", &["link", "set", "lo", "up"]);
    let elements = answering
        .iter()
        .map(|ip| ip.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let ruleset = format!(
        "table inet {TABLE} {{
  counter answering {{ }}
  counter silent {{ }}
  set agents {{ type ipv4_addr; elements = {{ {elements} }} }}
  set per_addr {{ type ipv4_addr; size 65535; flags dynamic; counter; }}
  chain input {{
    type filter hook input priority 0; policy accept;
    udp dport 161 update @per_addr {{ ip daddr }}
    udp dport 161 ip daddr @agents counter name answering accept
    udp dport 161 ip daddr 127.0.0.0/8 counter name silent drop
  }}
}}
"
    );
    let path = std::env::temp_dir().join(format!("ppbench-{}.nft", std::process::id()));
    std::fs::write(&path, ruleset).unwrap();
    sh("nft", &["-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(path);
}

/// Packets to UDP 161 since the last reset: per destination address, and the totals
/// to answering and to silent addresses.
#[derive(Debug, Default)]
struct Count {
    per_addr: BTreeMap<Ipv4Addr, u64>,
    answering: u64,
    silent: u64,
}

fn reset_counts() {
    sh("nft", &["reset", "counters", "table", "inet", TABLE]);
    sh("nft", &["flush", "set", "inet", TABLE, "per_addr"]);
}

fn read_counts() -> Count {
    let json: serde_json::Value =
        serde_json::from_str(&sh("nft", &["-j", "list", "table", "inet", TABLE])).unwrap();
    let mut count = Count::default();
    for item in json["nftables"].as_array().unwrap() {
        if let Some(counter) = item.get("counter") {
            let packets = counter["packets"].as_u64().unwrap_or(0);
            match counter["name"].as_str() {
                Some("answering") => count.answering = packets,
                Some("silent") => count.silent = packets,
                _ => {}
            }
        }
        if let Some(set) = item.get("set")
            && set["name"] == "per_addr"
        {
            for elem in set["elem"].as_array().into_iter().flatten() {
                let e = &elem["elem"];
                let ip: Ipv4Addr = e["val"].as_str().unwrap().parse().unwrap();
                count
                    .per_addr
                    .insert(ip, e["counter"]["packets"].as_u64().unwrap_or(0));
            }
        }
    }
    count
}

// --- agents -------------------------------------------------------------------------

struct Agents {
    ips: Vec<Ipv4Addr>,
    dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Agents {
    fn drop(&mut self) {
        if let Some(pid) = Pid::from_raw(self.child.id() as i32) {
            let _ = kill_process_group(pid, Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(pid) = Pid::from_raw(self.child.id() as i32) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

/// Recording `stem` with serial `serial` and MACs `02:bb:<tag>:<agent>:<if>` instead
/// of the recorded ones.
fn personalised(stem: &str, tag: u8, agent: usize) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/snmp")
        .join(format!("{stem}.snmprec"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(3, '|');
            let (oid, ty, value) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            if oid == "1.3.6.1.2.1.43.5.1.1.17.1" {
                format!("{oid}|{ty}|{value}-B{tag:02}{agent:02}")
            } else if let Some(ifindex) = oid.strip_prefix("1.3.6.1.2.1.2.2.1.6.")
                && !value.is_empty()
            {
                let ifindex: u8 = ifindex.parse().unwrap_or(0);
                format!("{oid}|4x|02bb{tag:02x}00{agent:02x}{ifindex:02x}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn recording_of(agent: usize) -> &'static str {
    RECORDINGS[agent % RECORDINGS.len()]
}

async fn start_agents(ips: &[Ipv4Addr], tag: u8) -> Agents {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        format!("--cache-dir={}", dir.path().join("cache").display()),
        "--log-level=error".into(),
    ];
    for (i, ip) in ips.iter().enumerate() {
        let data = dir.path().join(format!("agent{i:02}"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(
            data.join("public.snmprec"),
            personalised(recording_of(i), tag, i),
        )
        .unwrap();
        args.push("--v3-engine-id=auto".into());
        args.push(format!("--data-dir={}", data.display()));
        args.push(format!("--agent-udpv4-endpoint={ip}:161"));
    }
    let log = std::fs::File::create(dir.path().join("snmpsim.log")).unwrap();
    let child = Command::new("snmpsim-command-responder")
        .args(&args)
        .env("SNMPSIM_ALLOW_ROOT", "true")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("snmpsim-command-responder: {e} (pip install snmpsim pysmi cryptography)")
        });
    let agents = Agents {
        ips: ips.to_vec(),
        dir,
        child,
    };
    // Ready when every agent answers a v2c GET (these packets are not counted: the
    // counters are reset before each scan).
    let prober = Prober::new(SnmpSettings {
        timeout: Duration::from_millis(300),
        retries: 0,
        ..SnmpSettings::default()
    })
    .await
    .unwrap();
    let public = SnmpCredential::V2c {
        community: "public".into(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    for ip in ips {
        loop {
            let session = prober.session(IpAddr::V4(*ip), &public).await.unwrap();
            if session
                .get(&[printpark::devices::mib::SYS_DESCR])
                .await
                .is_ok()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "snmpsim agent {ip} did not answer: {}",
                std::fs::read_to_string(agents.dir.path().join("snmpsim.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    agents
}

// --- the ranges ---------------------------------------------------------------------

struct Plan {
    name: String,
    /// What PrintPark is given.
    cidr: String,
    /// The same addresses for nmap: targets and `--exclude`.
    nmap_targets: Vec<String>,
    addresses: Vec<Ipv4Addr>,
    answering: Vec<Ipv4Addr>,
    tag: u8,
}

fn plan(bits: u8) -> Plan {
    // /24: 127.0.1.0/24; /23: 127.0.2.0/23; /22: 127.0.4.0/22 (disjoint).
    let base: u32 = match bits {
        24 => u32::from(Ipv4Addr::new(127, 0, 1, 0)),
        23 => u32::from(Ipv4Addr::new(127, 0, 2, 0)),
        _ => u32::from(Ipv4Addr::new(127, 0, 4, 0)),
    };
    let size = 1u32 << (32 - bits);
    let addresses: Vec<Ipv4Addr> = (base + 1..base + size - 1).map(Ipv4Addr::from).collect();
    // Spread the agents over the range, away from its ends.
    let step = (size - 20) / AGENTS as u32;
    let answering: Vec<Ipv4Addr> = (0..AGENTS as u32)
        .map(|i| Ipv4Addr::from(base + 10 + i * step))
        .collect();
    let first = Ipv4Addr::from(base);
    let last = Ipv4Addr::from(base + size - 1);
    let [a, b, c, _] = first.octets();
    let [_, _, c2, _] = last.octets();
    let nmap_targets = if c == c2 {
        vec![format!("{a}.{b}.{c}.1-254")]
    } else {
        vec![
            format!("{a}.{b}.{c}-{c2}.0-255"),
            "--exclude".into(),
            format!("{first},{last}"),
        ]
    };
    Plan {
        name: format!("/{bits}"),
        cidr: format!("{first}/{bits}"),
        nmap_targets,
        addresses,
        answering,
        tag: bits,
    }
}

// --- results ------------------------------------------------------------------------

struct Row {
    scanner: String,
    range: String,
    addresses: usize,
    answering: usize,
    wall: Duration,
    /// When the last of the answering devices was known (PrintPark: from progress).
    all_found: Option<Duration>,
    packets: u64,
    own_count: Option<u64>,
    per_silent_mean: f64,
    per_silent_max: u64,
    silent_covered: usize,
    silent_total: usize,
    per_answering: f64,
    found: String,
    found_ok: bool,
}

fn row_from_count(scanner: &str, plan: &Plan, wall: Duration, count: &Count) -> Row {
    let answering: BTreeSet<Ipv4Addr> = plan.answering.iter().copied().collect();
    let silent: Vec<u64> = plan
        .addresses
        .iter()
        .filter(|ip| !answering.contains(ip))
        .map(|ip| count.per_addr.get(ip).copied().unwrap_or(0))
        .collect();
    let outside: u64 = count
        .per_addr
        .iter()
        .filter(|(ip, _)| !plan.addresses.contains(ip))
        .map(|(_, n)| n)
        .sum();
    if outside > 0 {
        println!(
            "  note: {scanner} sent {outside} packets to addresses outside {}",
            plan.cidr
        );
    }
    let answering_packets: u64 = plan
        .answering
        .iter()
        .map(|ip| count.per_addr.get(ip).copied().unwrap_or(0))
        .sum();
    Row {
        scanner: scanner.into(),
        range: plan.name.clone(),
        addresses: plan.addresses.len(),
        answering: plan.answering.len(),
        wall,
        all_found: None,
        packets: count.answering + count.silent,
        own_count: None,
        per_silent_mean: silent.iter().sum::<u64>() as f64 / silent.len().max(1) as f64,
        per_silent_max: silent.iter().copied().max().unwrap_or(0),
        silent_covered: silent.iter().filter(|n| **n > 0).count(),
        silent_total: silent.len(),
        per_answering: answering_packets as f64 / plan.answering.len().max(1) as f64,
        found: String::new(),
        found_ok: false,
    }
}

// --- PrintPark ----------------------------------------------------------------------

struct PrintPark {
    services: printpark::services::Services,
    _dir: tempfile::TempDir,
    defaults: DiscoverySettingsRow,
}

async fn start_printpark() -> PrintPark {
    let dir = tempfile::tempdir().unwrap();
    let settings = printpark::config::Settings {
        data_dir: dir.path().join("data"),
        ..Default::default()
    };
    let services = printpark::services::Services::start(settings)
        .await
        .unwrap();
    let client = ClientInfo::default();
    let boss = services
        .identity
        .create_user(
            None,
            &NewUserRequest {
                username: "boss".into(),
                email: "boss@example.org".into(),
                admin: true,
                password: Some("correct horse battery".into()),
                ..Default::default()
            },
            &client,
        )
        .await
        .unwrap();
    services
        .devices
        .add_credential(
            &boss,
            &NewCredential {
                name: "office".into(),
                version: "2c".into(),
                community: "public".into(),
                ..Default::default()
            },
            &client,
        )
        .await
        .unwrap();
    // The product's defaults, untouched: the agents listen on the default port 161.
    let defaults = services.devices.settings().await.unwrap();
    PrintPark {
        services,
        _dir: dir,
        defaults,
    }
}

async fn scan_printpark(pp: &PrintPark, plan: &Plan) -> Row {
    let devices = &pp.services.devices;
    let ranges = vec![plan.cidr.clone()];
    reset_counts();
    let start = Instant::now();
    let expected = plan.answering.len() as i64;
    let all_found: Arc<Mutex<Option<Duration>>> = Arc::default();
    let seen = Arc::clone(&all_found);
    let end = devices
        .scan("bench", Some(&ranges), false, &move |p| {
            let mut seen = seen.lock().unwrap();
            if seen.is_none() && p.printers + p.others >= expected {
                *seen = Some(start.elapsed());
            }
        })
        .await
        .unwrap();
    let wall = start.elapsed();
    let count = read_counts();
    let mut row = row_from_count("PrintPark", plan, wall, &count);
    row.all_found = *all_found.lock().unwrap();
    row.own_count = Some(end.packets as u64);

    // What is in the database for this range: exactly the agents, each what it is.
    let in_range: BTreeSet<Ipv4Addr> = plan.addresses.iter().copied().collect();
    let list = devices.list().await.unwrap();
    let here: Vec<_> = list
        .iter()
        .filter(|d| d.ip.parse().is_ok_and(|ip| in_range.contains(&ip)))
        .collect();
    let ips: BTreeSet<Ipv4Addr> = here.iter().map(|d| d.ip.parse().unwrap()).collect();
    let expected_ips: BTreeSet<Ipv4Addr> = plan.answering.iter().copied().collect();
    let mut kinds_ok = true;
    for d in &here {
        let ip: Ipv4Addr = d.ip.parse().unwrap();
        let i = plan.answering.iter().position(|a| *a == ip);
        let want = i.map(|i| {
            if recording_of(i) == "switch" {
                "other"
            } else {
                "printer"
            }
        });
        let serial_ok = match i {
            Some(i) if recording_of(i) != "switch" => d
                .serial
                .as_deref()
                .is_some_and(|s| s.ends_with(&format!("-B{:02}{i:02}", plan.tag))),
            _ => true,
        };
        // Collected in full (save_report): the MAC of its recording, and a printer's
        // status. A device saved from the probe's answer alone (save_answer) has no
        // MAC; a non-printer's status is `unknown` by design.
        let mac_ok = i.is_some_and(|i| {
            d.mac.as_deref().is_some_and(|m| {
                m.eq_ignore_ascii_case(&format!("02:bb:{:02x}:00:{i:02x}:01", plan.tag))
                    || m.eq_ignore_ascii_case(&format!("02:bb:{:02x}:00:{i:02x}:02", plan.tag))
            })
        });
        let status_ok = d.kind != "printer" || d.status != "unknown";
        if want != Some(d.kind.as_str()) || !serial_ok || !mac_ok || !status_ok {
            kinds_ok = false;
            println!(
                "  unexpected device: {} kind {} serial {:?} mac {:?} status {}",
                d.ip, d.kind, d.serial, d.mac, d.status
            );
        }
    }
    let db_printers = here.iter().filter(|d| d.kind == "printer").count();
    let db_others = here.iter().filter(|d| d.kind == "other").count();
    let want_printers = plan
        .answering
        .iter()
        .enumerate()
        .filter(|(i, _)| recording_of(*i) != "switch")
        .count();
    let want_others = plan.answering.len() - want_printers;
    row.found_ok = end.state == "done"
        && end.total == plan.addresses.len() as i64
        && end.probed == end.total
        && (end.printers as usize, end.others as usize) == (want_printers, want_others)
        && (db_printers, db_others) == (want_printers, want_others)
        && ips == expected_ips
        && kinds_ok;
    row.found = format!(
        "{}+{} (db {}+{})",
        end.printers, end.others, db_printers, db_others
    );
    if !row.found_ok {
        println!(
            "  PrintPark {}: CHECK FAILED: end {end:?}; in the database {} devices, ips match {}",
            plan.name,
            here.len(),
            ips == expected_ips
        );
    }
    row
}

// --- nmap ---------------------------------------------------------------------------

async fn scan_nmap(plan: &Plan, timing: Option<&str>) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("nmap.xml");
    let mut args: Vec<String> = ["-n", "-Pn", "-sU", "-p161", "--script", "snmp-info", "-v"]
        .map(String::from)
        .to_vec();
    if let Some(t) = timing {
        args.push(t.into());
    }
    args.push("-oX".into());
    args.push(xml.display().to_string());
    args.extend(plan.nmap_targets.iter().cloned());
    reset_counts();
    let start = Instant::now();
    let out = tokio::process::Command::new("nmap")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("nmap");
    let wall = start.elapsed();
    let count = read_counts();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "nmap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = match timing {
        Some(t) => format!("nmap {t}"),
        None => "nmap (defaults)".into(),
    };
    let mut row = row_from_count(&name, plan, wall, &count);
    // nmap's own count: its raw probes (the UDP scan), not the script's packets.
    row.own_count = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Raw packets sent: "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
    let (open, info) = nmap_found(&xml);
    let expected: BTreeSet<Ipv4Addr> = plan.answering.iter().copied().collect();
    row.found_ok = open == expected && info == expected;
    row.found = format!("{} open, {} snmp-info", open.len(), info.len());
    if !row.found_ok {
        println!(
            "  {name} {}: found {:?} open, {:?} with snmp-info output",
            plan.name, open, info
        );
    }
    row
}

/// Hosts whose 161/udp is `open`, and those with `snmp-info` output, from nmap's XML.
fn nmap_found(xml: &Path) -> (BTreeSet<Ipv4Addr>, BTreeSet<Ipv4Addr>) {
    let text = std::fs::read_to_string(xml).unwrap_or_default();
    let (mut open, mut info) = (BTreeSet::new(), BTreeSet::new());
    for host in text.split("<host ").skip(1) {
        let Some(ip) = host
            .split("<address addr=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        if host.contains("<state state=\"open\"") {
            open.insert(ip);
        }
        if host.contains("<script id=\"snmp-info\"") {
            info.insert(ip);
        }
    }
    (open, info)
}

// --- a loop of snmpbulkwalk ---------------------------------------------------------

async fn scan_loop(plan: &Plan, parallel: usize, defaults: &DiscoverySettingsRow) -> Row {
    let gate = Arc::new(tokio::sync::Semaphore::new(parallel));
    let timeout = format!("{}", defaults.timeout_ms as f64 / 1000.0);
    let retries = defaults.retries.to_string();
    reset_counts();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for ip in plan.addresses.clone() {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (timeout, retries) = (timeout.clone(), retries.clone());
        tasks.spawn(async move {
            let out = tokio::process::Command::new("snmpbulkwalk")
                .args([
                    "-v2c", "-c", "public", "-On", "-m", "", "-t", &timeout, "-r", &retries,
                ])
                .arg(ip.to_string())
                .arg("1.3.6.1.2.1")
                .env("MIBS", "")
                .stdin(Stdio::null())
                .output()
                .await
                .expect("snmpbulkwalk");
            drop(permit);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let answered = out.status.success() && !text.trim().is_empty();
            let printer = text.contains(".1.3.6.1.2.1.43.5.1.1.17.1 ");
            (ip, answered, printer)
        });
    }
    let mut found = BTreeSet::new();
    let mut printers = 0;
    while let Some(result) = tasks.join_next().await {
        let (ip, answered, printer) = result.unwrap();
        if answered {
            found.insert(ip);
            printers += usize::from(printer);
        }
    }
    let wall = start.elapsed();
    let count = read_counts();
    let mut row = row_from_count(&format!("snmpbulkwalk ×{parallel}"), plan, wall, &count);
    let expected: BTreeSet<Ipv4Addr> = plan.answering.iter().copied().collect();
    let others = found.len() - printers;
    let want_printers = (0..plan.answering.len())
        .filter(|i| recording_of(*i) != "switch")
        .count();
    row.found_ok = found == expected && printers == want_printers;
    row.found = format!("{printers}+{others}");
    row
}

// --- the run ------------------------------------------------------------------------

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {cpu}")
}

fn version(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            text.lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| "missing".into())
}

async fn run(options: Options) {
    let plans: Vec<Plan> = options.ranges.iter().map(|b| plan(*b)).collect();
    let all_agents: Vec<Ipv4Addr> = plans.iter().flat_map(|p| p.answering.clone()).collect();
    setup_netns(&all_agents);
    let nmap = options.nmap && have("nmap");
    let bulkwalk = options.lp && have("snmpbulkwalk");

    println!("PrintPark discovery benchmark: {}", machine());
    println!(
        "network namespace of its own (unshare -n), loopback; UDP 161 to silent addresses dropped by nftables (no ICMP)"
    );
    println!(
        "agents: snmpsim ({}), {} per range on port 161, v2c community public, recordings {} in turn",
        version("snmpsim-command-responder", &["--version"]),
        AGENTS,
        RECORDINGS.join(", ")
    );
    if options.nmap && !nmap {
        println!("nmap: missing, skipped (apt-get install nmap)");
    } else if nmap {
        println!("peer: {}", version("nmap", &["--version"]));
    }
    if options.lp && !bulkwalk {
        println!("snmpbulkwalk: missing, skipped (apt-get install snmp)");
    } else if bulkwalk {
        println!(
            "peer: net-snmp snmpbulkwalk {}",
            version("snmpbulkwalk", &["-V"])
        );
    }

    let pp = start_printpark().await;
    let d = &pp.defaults;
    println!(
        "PrintPark settings (product defaults, unchanged): rate limit {} /s, time-out {} ms, retries {}, port {}; SQLite in a temp dir",
        d.rate_pps, d.timeout_ms, d.retries, d.port
    );
    println!();

    let mut rows = Vec::new();
    for plan in &plans {
        let agents = start_agents(&plan.answering, plan.tag).await;
        assert_eq!(agents.ips.len(), AGENTS);
        for _ in 0..options.runs {
            let row = scan_printpark(&pp, plan).await;
            print_row(&row, rows.is_empty());
            rows.push(row);
        }
        if bulkwalk {
            let row = scan_loop(plan, options.loop_parallel, &pp.defaults).await;
            print_row(&row, false);
            rows.push(row);
        }
        if nmap {
            let row = scan_nmap(plan, None).await;
            print_row(&row, false);
            rows.push(row);
            if options.t4 {
                let row = scan_nmap(plan, Some("-T4")).await;
                print_row(&row, false);
                rows.push(row);
            }
        }
        drop(agents);
    }

    println!();
    println!(
        "  wall = start of the scan to its end (process exit for the peers); found@ = when PrintPark's progress"
    );
    println!(
        "  first showed all answering devices found (250 ms reports); packets = UDP datagrams to port 161 counted"
    );
    println!(
        "  by nftables (per destination), own = the scanner's own count (PrintPark: ScanProgress.packets; nmap:"
    );
    println!(
        "  \"Raw packets sent\", its UDP probes without the script's); per silent: mean / max over the silent"
    );
    println!(
        "  addresses, covered = silent addresses that got at least one packet; found: printers+others (PrintPark:"
    );
    println!(
        "  its counters, then the devices in its database), hosts with 161/udp open and snmp-info output (nmap),"
    );
    println!(
        "  walks that returned rows, printers = with prtGeneralSerialNumber (snmpbulkwalk); ok = exactly the agents"
    );

    if let Some(r) = rows
        .iter()
        .find(|r| r.scanner == "PrintPark" && r.range == "/24")
    {
        let met = r.wall < Duration::from_secs(5) && r.per_silent_max <= 2 && r.found_ok;
        println!();
        println!(
            "aim: a /24 under 5 s at the default rate limit, no more than 2 packets per silent address: {} ({:.2} s, at most {} packets per silent address, found {}{})",
            if met { "MET" } else { "NOT MET" },
            r.wall.as_secs_f64(),
            r.per_silent_max,
            r.found,
            if r.found_ok {
                ", all correct"
            } else {
                ", WRONG"
            }
        );
    }
    drop(pp);
}

fn print_row(r: &Row, header: bool) {
    if header {
        println!(
            "{:<20} {:>5} {:>5} {:>4} | {:>7} {:>7} | {:>7} {:>7} | {:>10} {:>9} {:>9} | {:<24} ok",
            "scanner",
            "range",
            "addrs",
            "ans",
            "wall s",
            "found@",
            "packets",
            "own",
            "per silent",
            "covered",
            "per ans",
            "found"
        );
    }
    println!(
        "{:<20} {:>5} {:>5} {:>4} | {:>7.2} {:>7} | {:>7} {:>7} | {:>5.2} / {:<2} {:>9} {:>9.1} | {:<24} {}",
        r.scanner,
        r.range,
        r.addresses,
        r.answering,
        r.wall.as_secs_f64(),
        r.all_found
            .map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64())),
        r.packets,
        r.own_count.map_or("-".into(), |n| n.to_string()),
        r.per_silent_mean,
        r.per_silent_max,
        format!("{}/{}", r.silent_covered, r.silent_total),
        r.per_answering,
        r.found,
        if r.found_ok { "ok" } else { "WRONG" }
    );
}
