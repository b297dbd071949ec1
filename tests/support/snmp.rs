//! SNMP agents to discover and poll: `snmpsim` (PyPI, 1.2.x) serving the printer
//! recordings of `tests/fixtures/snmp` (their values: that folder's README.md).
//!
//! ```ignore
//! let agents = SnmpAgents::start(&[
//!     AgentSpec::v2c(Recording::MonoLaser, Ipv4Addr::new(127, 0, 0, 11)),
//!     AgentSpec::v3_only(Recording::SecureMfp, Ipv4Addr::new(127, 0, 0, 15), V3User::sha256()),
//! ]).await;
//! // ... scan 127.0.0.0/27 on agents.port with community "public" ...
//! ```
//!
//! Every agent listens on its own 127.0.0.x address and on one UDP port shared by all
//! (`agents.port`, picked free), so a scan of a range at one port finds them all. Each
//! recording is served as `public.snmprec` in a data dir of its own, so every v2c agent
//! answers the community `public` (any other community: no answer at all, like a real
//! device) and every v3 user must ask for the context name `public`.
//! Start-up takes about 1 s (Python); Drop stops the process groups (TERM, KILL after
//! 5 s) and removes the temp dir.
//!
//! # Traps found on the way (snmpsim 1.2.2, pysnmp 7.1)
//! - As root snmpsim refuses to start ("Must drop privileges to a non-privileged
//!   user&group") unless `--process-user/--process-group` are given; dropping to
//!   `nobody` then fails on pyenv's Python under /root (mode 700: "no dbm clone found"
//!   when it lazily imports `dbm.dumb`). `SNMPSIM_ALLOW_ROOT=true` skips the drop.
//! - `--v3-only` is per process, so v3-only agents run in a second process. Agents of
//!   one process are engines (`--v3-engine-id=auto` starts each one: its users, data dir
//!   and endpoints follow until the next `--v3-engine-id`).
//! - v3 requests without context name `public` get no answer (not an error report).
//! - A missing OID is answered `noSuchInstance` (never `noSuchObject`); a GETBULK past
//!   the last record is padded with `endOfMibView` bindings: a walk stops at the first.
//! - Index files go to `--cache-dir` named `<data dir name>_<file>.dbm*`: one cache dir
//!   per set of agents, or parallel tests clash.
//! - Needs `pysmi` and `cryptography` beside it, or authPriv fails ("Decryption error").

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

/// How long `start` waits for every agent to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The recordings in tests/fixtures/snmp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// Brother HL-L5100DN: mono laser, all fine.
    MonoLaser,
    /// HP Color LaserJet MFP M480f: four toners, a maintenance kit, black toner low.
    ColourMfp,
    /// Lexmark MS621: paper jam, tray empty, device down.
    JammedLaser,
    /// A Cisco switch: no Host Resources printer, no Printer-MIB.
    Switch,
    /// Xerox VersaLink B405: meant to be served v3-only.
    SecureMfp,
}

impl Recording {
    pub fn file_stem(self) -> &'static str {
        match self {
            Recording::MonoLaser => "mono-laser",
            Recording::ColourMfp => "colour-mfp",
            Recording::JammedLaser => "jammed-laser",
            Recording::Switch => "switch",
            Recording::SecureMfp => "secure-mfp",
        }
    }

    pub fn path(self) -> PathBuf {
        fixtures_dir().join(format!("{}.snmprec", self.file_stem()))
    }
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snmp")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V3Auth {
    Sha1,
    Sha256,
}

/// An SNMPv3 USM user with authPriv (privacy is always AES-128).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3User {
    pub name: String,
    pub auth: V3Auth,
    pub auth_password: String,
    pub priv_password: String,
}

impl V3User {
    /// `printpark` / SHA-256 `authpass-1234` / AES-128 `privpass-5678`.
    pub fn sha256() -> Self {
        Self {
            name: "printpark".into(),
            auth: V3Auth::Sha256,
            auth_password: "authpass-1234".into(),
            priv_password: "privpass-5678".into(),
        }
    }

    /// `printpark-sha1` / SHA-1 `authpass-1234` / AES-128 `privpass-5678`.
    pub fn sha1() -> Self {
        Self {
            name: "printpark-sha1".into(),
            auth: V3Auth::Sha1,
            ..Self::sha256()
        }
    }

    fn snmpsim_args(&self) -> Vec<String> {
        let proto = match self.auth {
            V3Auth::Sha1 => "SHA",
            V3Auth::Sha256 => "SHA256",
        };
        vec![
            format!("--v3-user={}", self.name),
            format!("--v3-auth-key={}", self.auth_password),
            format!("--v3-auth-proto={proto}"),
            format!("--v3-priv-key={}", self.priv_password),
            "--v3-priv-proto=AES".into(),
        ]
    }

    /// Arguments for net-snmp's tools (`snmpget -v3 …`), context `public` included.
    pub fn net_snmp_args(&self) -> Vec<String> {
        let proto = match self.auth {
            V3Auth::Sha1 => "SHA",
            V3Auth::Sha256 => "SHA-256",
        };
        [
            "-v3",
            "-l",
            "authPriv",
            "-u",
            &self.name,
            "-a",
            proto,
            "-A",
            &self.auth_password,
            "-x",
            "AES",
            "-X",
            &self.priv_password,
            "-n",
            "public",
        ]
        .map(String::from)
        .to_vec()
    }
}

/// One agent: a recording on an address; v2c (community `public`) unless `v3_only`.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub recording: Recording,
    pub ip: Ipv4Addr,
    /// A v3 user besides snmpsim's default one (`simulator`, MD5/DES).
    pub v3_user: Option<V3User>,
    /// Answer SNMPv3 only (v1/v2c requests are dropped unanswered).
    pub v3_only: bool,
}

impl AgentSpec {
    pub fn v2c(recording: Recording, ip: Ipv4Addr) -> Self {
        Self {
            recording,
            ip,
            v3_user: None,
            v3_only: false,
        }
    }

    pub fn v3_only(recording: Recording, ip: Ipv4Addr, user: V3User) -> Self {
        Self {
            recording,
            ip,
            v3_user: Some(user),
            v3_only: true,
        }
    }

    /// A v2c agent that also knows this v3 user.
    pub fn with_v3_user(mut self, user: V3User) -> Self {
        self.v3_user = Some(user);
        self
    }
}

/// Running snmpsim processes; stopped on Drop.
pub struct SnmpAgents {
    /// The UDP port every agent listens on.
    pub port: u16,
    pub specs: Vec<AgentSpec>,
    dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl SnmpAgents {
    /// Starts the agents and waits until each one answers (panics after 30 s).
    pub async fn start(specs: &[AgentSpec]) -> Self {
        assert!(!specs.is_empty(), "no agents to start");
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = free_udp_port(specs);
            match Self::try_start(specs, port).await {
                Ok(agents) => return agents,
                // Lost the port to someone else between the check and snmpsim's bind.
                Err(error) => last_error = error,
            }
        }
        panic!("snmpsim did not start: {last_error}");
    }

    /// Starts the agents on this port (a device that moved keeps its port).
    pub async fn start_on_port(specs: &[AgentSpec], port: u16) -> Self {
        match Self::try_start(specs, port).await {
            Ok(agents) => agents,
            Err(error) => panic!("snmpsim did not start on port {port}: {error}"),
        }
    }

    async fn try_start(specs: &[AgentSpec], port: u16) -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut agents = Self {
            port,
            specs: specs.to_vec(),
            dir,
            children: Vec::new(),
        };
        for v3_only in [false, true] {
            let group: Vec<(usize, &AgentSpec)> = specs
                .iter()
                .enumerate()
                .filter(|(_, s)| s.v3_only == v3_only)
                .collect();
            if !group.is_empty() {
                let child = agents.spawn(&group, v3_only);
                agents.children.push(child);
            }
        }
        let deadline = Instant::now() + START_TIMEOUT;
        for spec in specs {
            let addr = SocketAddr::from((spec.ip, port));
            loop {
                let ready = if spec.v3_only {
                    v3_answers(addr, Duration::from_millis(200)).await
                } else {
                    v2c_answers(addr, "public", Duration::from_millis(200)).await
                };
                if ready {
                    break;
                }
                if let Some(exited) = agents.exited() {
                    return Err(format!("{exited}\n{}", agents.logs()));
                }
                if Instant::now() > deadline {
                    panic!(
                        "snmpsim agent {addr} did not answer in time\n{}",
                        agents.logs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(agents)
    }

    fn spawn(&self, group: &[(usize, &AgentSpec)], v3_only: bool) -> Child {
        let name = if v3_only { "v3" } else { "v2c" };
        let mut args = vec![
            format!(
                "--cache-dir={}",
                self.dir.path().join(format!("cache-{name}")).display()
            ),
            "--log-level=error".into(),
        ];
        if v3_only {
            args.push("--v3-only".into());
        }
        for (index, spec) in group {
            let data = self
                .dir
                .path()
                .join(format!("agent{index}-{}", spec.recording.file_stem()));
            std::fs::create_dir_all(&data).unwrap();
            std::fs::copy(spec.recording.path(), data.join("public.snmprec"))
                .unwrap_or_else(|e| panic!("copy {}: {e}", spec.recording.path().display()));
            args.push("--v3-engine-id=auto".into());
            args.push(format!("--data-dir={}", data.display()));
            args.push(format!("--agent-udpv4-endpoint={}:{}", spec.ip, self.port));
            if let Some(user) = &spec.v3_user {
                args.extend(user.snmpsim_args());
            }
        }
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).unwrap();
        Command::new("snmpsim-command-responder")
            .args(&args)
            .env("SNMPSIM_ALLOW_ROOT", "true")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("snmpsim-command-responder: {e} (pip install snmpsim pysmi cryptography)")
            })
    }

    fn exited(&mut self) -> Option<String> {
        self.children
            .iter_mut()
            .find_map(|child| match child.try_wait() {
                Ok(Some(status)) => Some(format!("snmpsim exited: {status}")),
                _ => None,
            })
    }

    /// Both processes' output, for failure messages.
    pub fn logs(&self) -> String {
        ["v2c.log", "v3.log"]
            .iter()
            .filter_map(|name| std::fs::read_to_string(self.dir.path().join(name)).ok())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn addr(&self, ip: Ipv4Addr) -> SocketAddr {
        SocketAddr::from((ip, self.port))
    }

    /// `HOST:PORT` of an agent, as net-snmp's tools take it.
    pub fn target(&self, ip: Ipv4Addr) -> String {
        format!("{ip}:{}", self.port)
    }
}

impl Drop for SnmpAgents {
    fn drop(&mut self) {
        for child in &mut self.children {
            stop_group(child);
        }
    }
}

/// A UDP port free on every agent address.
fn free_udp_port(specs: &[AgentSpec]) -> u16 {
    for _ in 0..50 {
        let first = UdpSocket::bind((specs[0].ip, 0)).expect("bind a UDP port");
        let port = first.local_addr().unwrap().port();
        let others: Result<Vec<_>, _> = specs[1..]
            .iter()
            .map(|s| UdpSocket::bind((s.ip, port)))
            .collect();
        if others.is_ok() {
            return port;
        }
    }
    panic!("no UDP port free on all agent addresses");
}

/// Stops a process group: TERM, then KILL after 5 s.
fn stop_group(child: &mut Child) {
    let Some(pid) = Pid::from_raw(child.id() as i32) else {
        return;
    };
    let _ = kill_process_group(pid, Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = kill_process_group(pid, Signal::KILL);
    let _ = child.wait();
}

/// Whether `addr` answers a v2c GET of sysDescr.0 with this community (raw UDP, no crate).
pub async fn v2c_answers(addr: SocketAddr, community: &str, wait: Duration) -> bool {
    let get = message(&[
        tlv(0x02, &[1]), // version: v2c
        tlv(0x04, community.as_bytes()),
        tlv(
            0xa0,
            &[
                tlv(0x02, &[0x12, 0x34]),
                tlv(0x02, &[0]),
                tlv(0x02, &[0]),
                tlv(
                    0x30,
                    &tlv(
                        0x30,
                        &[tlv(0x06, &[0x2b, 6, 1, 2, 1, 1, 1, 0]), tlv(0x05, &[])].concat(),
                    ),
                ),
            ]
            .concat(),
        ),
    ]);
    exchange(addr, &get, wait)
        .await
        .is_some_and(|reply| reply.first() == Some(&0x30))
}

/// Whether `addr` answers an SNMPv3 engine-ID discovery (RFC 3414 4) with a Report.
pub async fn v3_answers(addr: SocketAddr, wait: Duration) -> bool {
    let usm = tlv(
        0x30,
        &[
            tlv(0x04, &[]),
            tlv(0x02, &[0]),
            tlv(0x02, &[0]),
            tlv(0x04, &[]),
            tlv(0x04, &[]),
            tlv(0x04, &[]),
        ]
        .concat(),
    );
    let discovery = message(&[
        tlv(0x02, &[3]), // version: v3
        // msgID, msgMaxSize 65507, flags: reportable, noAuthNoPriv; security model USM
        tlv(
            0x30,
            &[
                tlv(0x02, &[0x12, 0x34]),
                tlv(0x02, &[0x00, 0xff, 0xe3]),
                tlv(0x04, &[0x04]),
                tlv(0x02, &[3]),
            ]
            .concat(),
        ),
        tlv(0x04, &usm),
        tlv(
            0x30,
            &[
                tlv(0x04, &[]),
                tlv(0x04, &[]),
                tlv(
                    0xa0,
                    &[
                        tlv(0x02, &[0x12, 0x34]),
                        tlv(0x02, &[0]),
                        tlv(0x02, &[0]),
                        tlv(0x30, &[]),
                    ]
                    .concat(),
                ),
            ]
            .concat(),
        ),
    ]);
    exchange(addr, &discovery, wait)
        .await
        .is_some_and(|reply| reply.first() == Some(&0x30))
}

fn message(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// BER tag-length-value (definite length, short or long form).
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

async fn exchange(addr: SocketAddr, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let socket = tokio::net::UdpSocket::bind(("127.0.0.1", 0)).await.ok()?;
    socket.connect(addr).await.ok()?;
    socket.send(packet).await.ok()?;
    let mut buf = vec![0u8; 65_535];
    match tokio::time::timeout(wait, socket.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        _ => None, // time-out, or ICMP port unreachable (nothing bound yet)
    }
}

/// Runs a net-snmp tool (`snmpget`, `snmpwalk`, `snmpbulkwalk`: Debian's `snmp`) with
/// numeric output (`-On -Oe`, no MIB loading) and a hard time-out.
pub async fn net_snmp(tool: &str, args: &[String]) -> Output {
    let mut command = tokio::process::Command::new(tool);
    command
        .args(["-On", "-Oe", "-m", "", "-t", "1", "-r", "1"])
        .args(args)
        .env("MIBS", "")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(20), command.output()).await {
        Ok(output) => output.unwrap_or_else(|e| panic!("{tool}: {e} (apt-get install snmp)")),
        Err(_) => panic!("{tool} {} hung", args.join(" ")),
    }
}
