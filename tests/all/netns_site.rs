//! The test support for on-site agents (`support::netns::Site`): a printer in a site
//! answers there and nowhere else, and `cut` behaves like a cut cable (connections
//! hang, new ones time out, both go on after `restore`) in both directions: host to
//! site, and site to host (the agent's way to the server).

use crate::support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use support::netns::Site;
use support::printer::{PrinterOptions, TestPrinter};

/// How long a connection must stay silent to count as hanging.
const SILENCE: Duration = Duration::from_secs(1);

/// A TCP echo service on a listener (made in the site or on the host); stops on drop.
struct Echo {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Echo {
    fn start(listener: TcpListener) -> Self {
        let addr = listener.local_addr().unwrap();
        // Non-blocking, so the accept loop notices `stop`.
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    let stop = stop.clone();
                    std::thread::spawn(move || echo(stream, &stop));
                }
            })
        };
        Self {
            addr,
            stop,
            accept: Some(accept),
        }
    }
}

fn echo(mut stream: TcpStream, stop: &AtomicBool) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 1024];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Sends `byte` and reads it back within `timeout`.
fn round_trip(stream: &mut TcpStream, byte: u8, timeout: Duration) -> std::io::Result<u8> {
    stream.write_all(&[byte])?;
    read_one(stream, timeout)
}

fn read_one(stream: &mut TcpStream, timeout: Duration) -> std::io::Result<u8> {
    stream.set_read_timeout(Some(timeout))?;
    let mut buf = [0u8; 1];
    stream.read_exact(&mut buf)?;
    Ok(buf[0])
}

/// A connect that runs into its time-out: nothing answers, not even a refusal.
fn assert_times_out(result: std::io::Result<TcpStream>, what: &str) {
    match result {
        Err(e) if e.kind() == ErrorKind::TimedOut => {}
        Err(e) => panic!("{what}: {e} ({:?}), expected a time-out", e.kind()),
        Ok(_) => panic!("{what}: connected through a cut cable"),
    }
}

/// An established connection through a cut cable: a write is taken, no answer comes
/// back, and the connection is neither reset nor closed.
fn assert_hangs(stream: &mut TcpStream, byte: u8, what: &str) {
    match round_trip(stream, byte, SILENCE) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("{what}: {other:?}, expected the connection to hang"),
    }
}

#[tokio::test]
async fn a_printer_in_a_site_is_reachable_only_from_inside_the_site() {
    if !support::running_as_root() {
        eprintln!(
            "skipped: a site (network namespace, veth pair, nftables) needs root; CI runs as root"
        );
        return;
    }
    let site = Site::create();
    let name = support::unique("Site Printer");
    let printer = TestPrinter::start(PrinterOptions::named(&name).in_site(&site)).await;

    // Inside the site it answers (its status() is ipptool's Get-Printer-Attributes,
    // run in the site).
    let status = printer.status().await;
    assert_eq!(status.state, "idle", "{status:?}");
    assert!(status.accepting_jobs);

    // From the host: nothing on the site's address (the printer listens on the site's
    // loopback), and the host's own 127.0.0.1 is another machine's loopback.
    let port = printer.port();
    match TcpStream::connect_timeout(&SocketAddr::from((site.site_addr(), port)), SILENCE) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!("the host reached {}:{port}", site.site_addr()),
    }
    // Some other host program may happen to listen on that port: then it must not be
    // our printer (ippeveprinter's page names it).
    let host_loopback = format!("http://127.0.0.1:{port}/");
    let answer = reqwest::Client::new()
        .get(&host_loopback)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    if let Ok(answer) = answer {
        let page = answer.text().await.unwrap_or_default();
        assert!(
            !page.contains(&name),
            "the host reached the site's printer at {host_loopback}"
        );
    }

    // The cable, both ways: host → a listener on the site's address, and site → a
    // listener on the host's end (where a server would listen for the agent).
    let in_site = Echo::start(
        site.listen(SocketAddr::from((site.site_addr(), 0)))
            .expect("listen in the site"),
    );
    let on_host =
        Echo::start(TcpListener::bind((site.host_addr(), 0)).expect("listen on the host end"));
    let mut to_site = TcpStream::connect_timeout(&in_site.addr, SILENCE).expect("host → site");
    let mut to_host = site.connect(on_host.addr, SILENCE).expect("site → host");
    assert_eq!(round_trip(&mut to_site, b'1', SILENCE).unwrap(), b'1');
    assert_eq!(round_trip(&mut to_host, b'1', SILENCE).unwrap(), b'1');

    site.cut();
    assert_times_out(
        TcpStream::connect_timeout(&in_site.addr, SILENCE),
        "host → site after cut",
    );
    assert_times_out(site.connect(on_host.addr, SILENCE), "site → host after cut");
    assert_hangs(&mut to_site, b'2', "host → site connection");
    assert_hangs(&mut to_host, b'2', "site → host connection");

    site.restore();
    // The held bytes arrive with the next retransmission (backed off to a few seconds).
    assert_eq!(
        read_one(&mut to_site, Duration::from_secs(20)).unwrap(),
        b'2'
    );
    assert_eq!(
        read_one(&mut to_host, Duration::from_secs(20)).unwrap(),
        b'2'
    );
    let mut again = TcpStream::connect_timeout(&in_site.addr, SILENCE).expect("host → site again");
    assert_eq!(round_trip(&mut again, b'3', SILENCE).unwrap(), b'3');
    let mut again = site
        .connect(on_host.addr, SILENCE)
        .expect("site → host again");
    assert_eq!(round_trip(&mut again, b'3', SILENCE).unwrap(), b'3');

    // The rest of TestPrinter works from inside the site too: a job by ipptool,
    // Get-Jobs, and its web forms (a connection made in the site).
    let pdf = support::fixture_path("document-a4.pdf");
    let job = printer
        .print_with_ipptool(&printer.uri(), &pdf, "application/pdf", "site job")
        .await
        .expect("Print-Job in the site");
    let jobs = printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!((jobs[0].id, jobs[0].state.as_str()), (job, "completed"));
    assert_eq!(
        printer.spooled_file(job).unwrap().bytes(),
        std::fs::read(&pdf).unwrap()
    );
    printer.empty_media().await;
    assert!(printer.status().await.has_reason("media-empty"));
}
