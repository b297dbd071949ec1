//! A *site*: a network of its own behind a single cable to the host, for an on-site
//! agent and printers the server cannot reach.
//!
//! ```ignore
//! let site = Site::create();                        // root only
//! let printer = TestPrinter::start(PrinterOptions::named("Site").in_site(&site)).await;
//! // the server listens on site.host_addr(); the agent runs in the site:
//! let agent = site.tokio_command(support::binary()).arg("agent").spawn();
//! site.cut();      // the cable is cut: packets vanish, connections hang
//! site.restore();  // plugged in again: hanging connections go on
//! ```
//!
//! A site is a network namespace with its loopback up and one veth pair: the host end
//! (`host_addr`, 10.201.x.y/30) stays in the test's namespace, the other end (`eth0`,
//! `site_addr`) is in the site. The site has no default route: from inside it reaches
//! its own loopback and `host_addr` only; the host reaches `site_addr` and nothing on
//! the site's loopback. Programs enter it with `nsenter --net=/proc/PID/ns/net`; sockets are made
//! in it by a thread that joins the namespace (`within`, `listen`, `connect`).
//!
//! Why it is built this way:
//! - **A holder process, not `ip netns add`**: named namespaces need a /run/netns bind
//!   mount that containers may not allow. The namespace lives as long as something is
//!   in it; the holder is `unshare --net cat` reading a pipe from the test process, so it
//!   also ends when the test binary is killed (the pipe closes). The veth pair goes away
//!   with the namespace, i.e. once nothing runs in it any more: printers of a test
//!   binary killed by SIGKILL stay (printer.rs), and keep the site's veth (and a cut's
//!   nftables table) until they are stopped.
//! - **`cut` drops IP packets at both veth ends' ingress** (nftables, netdev family,
//!   `meta protocol {ip, ip6} drop`), like a cut cable behind a router: no RST, no
//!   ICMP, and ARP still answers, so an established connection just hangs (a read
//!   times out, a write is accepted and retransmitted) and goes on after `restore`, and
//!   a new connect runs into its time-out. Measured alternatives (kernel 6.18):
//!   `ip link set <host end> down` removes the host's route to the site, so host→site
//!   connections follow the default route instead (in a sandbox with a transparent
//!   proxy they even *succeed*); site→host connects fail after ~2 s with "No route to
//!   host" once ARP gives up. A drop in an `output` hook returns EPERM to the sender
//!   at once. Ingress drops are invisible to the sender.
//! - Addresses: one /30 of 10.201.0.0/16 per site, picked at random, skipping blocks
//!   the host already uses, so sites of parallel tests and test binaries differ;
//!   interface names come from the pid and a counter.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The site end of the veth pair, as the site sees it (never in the host's namespace,
/// so every site can call it the same).
pub const SITE_INTERFACE: &str = "eth0";

/// Sites made by this process so far: part of their interface names and addresses.
static SITES: AtomicUsize = AtomicUsize::new(0);

/// A network namespace with a cable to the host; see the module doc. Dropping it ends
/// the namespace (stop what runs inside first, e.g. drop its printers before the site).
pub struct Site {
    holder: Child,
    host_interface: String,
    host_addr: Ipv4Addr,
    site_addr: Ipv4Addr,
    is_cut: AtomicBool,
}

impl Site {
    /// Creates the namespace, its loopback and the veth pair (root only).
    pub fn create() -> Site {
        let mut holder = Command::new("unshare")
            .args(["--net", "--", "cat"])
            // Its own group: a Ctrl-C to the test run is the test's business, not its.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("unshare (util-linux)");
        let netns = PathBuf::from(format!("/proc/{}/ns/net", holder.id()));
        // Until `unshare` has run, the holder is still in our namespace.
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_link(&netns).ok().is_none_or(|ns| ns == ours) {
            if let Ok(Some(status)) = holder.try_wait() {
                panic!("unshare --net exited ({status}): a site needs root");
            }
            assert!(Instant::now() < deadline, "unshare --net did not start");
            std::thread::sleep(Duration::from_millis(2));
        }

        let used = run(Command::new(super::sbin("ip")).args(["-4", "-o", "addr", "show"]));
        let pid = std::process::id() as usize;
        let (host_interface, host_addr, site_addr) = loop {
            let n = SITES.fetch_add(1, Ordering::SeqCst);
            // Random, not from the pid: pids that agree modulo the block count would
            // meet on every site; the check below catches blocks already in use.
            let block = uuid::Uuid::new_v4().as_u128() % (1 << 14);
            let base = u32::from(Ipv4Addr::new(10, 201, 0, 0)) + 4 * block as u32;
            let (host_addr, site_addr) = (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2));
            if used.contains(&format!(" {host_addr}/")) || used.contains(&format!(" {site_addr}/"))
            {
                continue;
            }
            // ≤ 15 bytes; the '_' keeps pid 1 site 23 apart from pid 12 site 3.
            let name = format!("pps{}_{n}", pid % 10_000);
            let added = Command::new(super::sbin("ip"))
                .args(["link", "add", &name, "type", "veth", "peer", "name"])
                .arg(SITE_INTERFACE)
                .arg("netns")
                .arg(holder.id().to_string())
                .output()
                .expect("ip (iproute2)");
            if added.status.success() {
                break (name, host_addr, site_addr);
            }
            let why = String::from_utf8_lossy(&added.stderr);
            // Another test binary's site with the same name: take the next one.
            assert!(why.contains("File exists"), "ip link add {name}: {why}");
        };
        let site = Site {
            holder,
            host_interface,
            host_addr,
            site_addr,
            is_cut: AtomicBool::new(false),
        };
        run(Command::new(super::sbin("ip"))
            .args(["addr", "add", &format!("{host_addr}/30"), "dev"])
            .arg(&site.host_interface));
        run(Command::new(super::sbin("ip"))
            .args(["link", "set", "up", "dev"])
            .arg(&site.host_interface));
        run(site
            .command(super::sbin("ip"))
            .args(["link", "set", "up", "dev", "lo"]));
        run(site.command(super::sbin("ip")).args([
            "addr",
            "add",
            &format!("{site_addr}/30"),
            "dev",
            SITE_INTERFACE,
        ]));
        run(site
            .command(super::sbin("ip"))
            .args(["link", "set", "up", "dev", SITE_INTERFACE]));
        site
    }

    /// The host end: the server listens here; from the site it is the way to the server.
    pub fn host_addr(&self) -> Ipv4Addr {
        self.host_addr
    }

    /// The site end (`eth0` inside the site).
    pub fn site_addr(&self) -> Ipv4Addr {
        self.site_addr
    }

    /// The host end's interface name (in the test's namespace).
    pub fn host_interface(&self) -> &str {
        &self.host_interface
    }

    /// `/proc/PID/ns/net` of the holder: valid while the site lives.
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.holder.id()))
    }

    /// `program`, run in the site (by `nsenter`, which execs it: the child's pid is the
    /// program's, so process groups and signals work as usual).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        command_in(&self.netns_path(), program)
    }

    pub fn tokio_command(&self, program: impl AsRef<OsStr>) -> tokio::process::Command {
        tokio::process::Command::from(self.command(program))
    }

    /// Runs `f` on a thread of its own that has joined the site's network: sockets it
    /// creates belong to the site for good, wherever they are used afterwards.
    pub fn within<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        within(&self.netns_path(), f)
    }

    /// A listener in the site, e.g. on `(site_addr, 0)` or on the site's 127.0.0.1.
    pub fn listen(&self, addr: SocketAddr) -> std::io::Result<TcpListener> {
        self.within(move || TcpListener::bind(addr))
    }

    /// A connection from inside the site.
    pub fn connect(&self, addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
        self.within(move || TcpStream::connect_timeout(&addr, timeout))
    }

    /// Cuts the cable: from now on no IP packet passes between host and site, silently
    /// (see the module doc). Connections stay open and hang.
    pub fn cut(&self) {
        if self.is_cut.swap(true, Ordering::SeqCst) {
            return;
        }
        nft(
            &mut Command::new(super::sbin("nft")),
            &drop_table(&self.host_table(), &self.host_interface),
        );
        nft(
            &mut self.command(super::sbin("nft")),
            &drop_table(SITE_TABLE, SITE_INTERFACE),
        );
    }

    /// Plugs the cable in again; hanging connections go on at their next retransmission.
    pub fn restore(&self) {
        if !self.is_cut.swap(false, Ordering::SeqCst) {
            return;
        }
        nft(
            &mut Command::new(super::sbin("nft")),
            &format!("delete table netdev {}", self.host_table()),
        );
        nft(
            &mut self.command(super::sbin("nft")),
            &format!("delete table netdev {SITE_TABLE}"),
        );
    }

    /// The host's table of this site's cut (the site's own is `SITE_TABLE`).
    fn host_table(&self) -> String {
        format!("printpark_cut_{}", self.host_interface)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if self.is_cut.load(Ordering::SeqCst) {
            let _ = Command::new(super::sbin("nft"))
                .args(["delete", "table", "netdev", &self.host_table()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        // Gone with the namespace, unless something still runs in the site.
        let _ = Command::new(super::sbin("ip"))
            .args(["link", "del", &self.host_interface])
            .stderr(Stdio::null())
            .status();
    }
}

const SITE_TABLE: &str = "printpark_cut";

/// An nftables table that drops every IP packet arriving on `device`.
fn drop_table(table: &str, device: &str) -> String {
    format!(
        "table netdev {table} {{\n\
         \x20 chain ingress {{\n\
         \x20   type filter hook ingress device \"{device}\" priority -500; policy accept;\n\
         \x20   meta protocol {{ ip, ip6 }} drop\n\
         \x20 }}\n\
         }}\n"
    )
}

/// Feeds `script` to `nft -f -`.
fn nft(command: &mut Command, script: &str) {
    let mut child = command
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nft (Debian's nftables)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "nft -f - failed: {}\n{script}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs a set-up command; its standard output, or a panic with its error.
fn run(command: &mut Command) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `program` in the network namespace at `netns` (a `/proc/PID/ns/net` path).
pub fn command_in(netns: &Path, program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("nsenter");
    command
        .arg(format!("--net={}", netns.display()))
        .arg("--")
        .arg(program);
    command
}

/// Runs `f` on a new thread that has joined the network namespace at `netns`.
/// A new thread each time: a pooled thread (tokio's blocking pool) would stay in the
/// namespace and take it to whatever runs on it next.
pub fn within<T: Send + 'static>(netns: &Path, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = File::open(netns).unwrap_or_else(|e| panic!("{}: {e}", netns.display()));
    std::thread::spawn(move || {
        join_network_namespace(&file);
        f()
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// setns(2) for the calling thread only (network namespaces are per thread).
fn join_network_namespace(file: &File) {
    use std::os::fd::AsFd;
    rustix::thread::move_into_link_name_space(
        file.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .unwrap_or_else(|e| panic!("setns(CLONE_NEWNET): {e}"));
}
