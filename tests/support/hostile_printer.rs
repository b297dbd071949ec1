//! A tiny scripted printer for hostile-printer tests: it answers Get-Printer-Attributes
//! and Get-Job-Attributes like an idle, healthy printer (advertising whatever
//! `printer-uri-supported` the test gives it), and answers Print-Job as the test says:
//! properly, or with crafted HTTP (a chunk size near `usize::MAX`, endless chunks).
//!
//! It listens on any loopback address (`127.0.0.2` works on Linux: all of 127/8 is
//! local), plain IPP or IPPS, counts the connections it accepted and the bytes of
//! crafted answer it managed to hand to the kernel before the client dropped the
//! connection. Runs on std threads; Drop stops it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How Print-Job is answered.
#[derive(Clone, Debug)]
pub enum JobReply {
    /// successful-ok with job-id 1 (Get-Job-Attributes then says completed).
    Accept,
    /// A chunked answer with 4 bytes of body, then the chunk size
    /// `ffffffffffffffff` and body bytes for ever: `body.len() + size` wraps.
    HugeChunk,
    /// A chunked answer made of 1-byte chunks, each with a 1 KB chunk extension, for
    /// ever: few body bytes, endless wire bytes.
    EndlessChunks,
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

#[derive(Default)]
struct Record {
    connections: AtomicUsize,
    /// Bytes of crafted answers written (accepted by the kernel).
    crafted_bytes: AtomicUsize,
    /// Crafted answers that ended because the client dropped the connection.
    dropped: AtomicUsize,
    operations: Mutex<Vec<u16>>,
}

pub struct HostilePrinter {
    host: String,
    port: u16,
    tls: bool,
    reply: Arc<Mutex<JobReply>>,
    record: Arc<Record>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl HostilePrinter {
    /// Plain IPP on `host` (e.g. "127.0.0.1"), advertising `uri()` and `advertise`.
    pub fn start(host: &str, reply: JobReply, advertise: &[String]) -> Self {
        Self::start_with(host, reply, advertise, false)
    }

    /// IPPS (a self-signed certificate), on `host`.
    pub fn start_tls(host: &str, reply: JobReply, advertise: &[String]) -> Self {
        Self::start_with(host, reply, advertise, true)
    }

    fn start_with(host: &str, reply: JobReply, advertise: &[String], tls: bool) -> Self {
        let listener = TcpListener::bind((host, 0)).expect("bind");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = tls.then(|| server_config(host));
        let scheme = if tls { "ipps" } else { "ipp" };
        let mut uris = vec![format!("{scheme}://{host}:{port}/ipp/print")];
        uris.extend(advertise.iter().cloned());
        let reply = Arc::new(Mutex::new(reply));
        let record = Arc::new(Record::default());
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (reply, record, stop) = (reply.clone(), record.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((tcp, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    record.connections.fetch_add(1, Ordering::SeqCst);
                    let _ = tcp.set_nonblocking(false);
                    let _ = tcp.set_read_timeout(Some(Duration::from_millis(100)));
                    let _ = tcp.set_write_timeout(Some(Duration::from_millis(200)));
                    let stream: Box<dyn Stream> = match &config {
                        Some(config) => {
                            let Ok(server) = rustls::ServerConnection::new(config.clone()) else {
                                continue;
                            };
                            Box::new(rustls::StreamOwned::new(server, tcp))
                        }
                        None => Box::new(tcp),
                    };
                    let now = reply.lock().unwrap().clone();
                    let (record, stop, uris) = (record.clone(), stop.clone(), uris.clone());
                    std::thread::spawn(move || serve(stream, now, &uris, &record, &stop));
                }
            })
        };
        Self {
            host: host.to_owned(),
            port,
            tls,
            reply,
            record,
            stop,
            accept: Some(accept),
        }
    }

    /// `ipp://HOST:PORT/ipp/print` (or `ipps://` for `start_tls`).
    pub fn uri(&self) -> String {
        let scheme = if self.tls { "ipps" } else { "ipp" };
        format!("{scheme}://{}:{}/ipp/print", self.host, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// For connections accepted from now on.
    pub fn set_reply(&self, reply: JobReply) {
        *self.reply.lock().unwrap() = reply;
    }

    pub fn connections(&self) -> usize {
        self.record.connections.load(Ordering::SeqCst)
    }

    /// Bytes of crafted answers the kernel took, all connections.
    pub fn crafted_bytes(&self) -> usize {
        self.record.crafted_bytes.load(Ordering::SeqCst)
    }

    /// Crafted answers that ended because the client hung up.
    pub fn dropped(&self) -> usize {
        self.record.dropped.load(Ordering::SeqCst)
    }

    /// Operation ids of the requests read (0x0002 Print-Job, 0x000B Get-Printer-Attributes …).
    pub fn operations(&self) -> Vec<u16> {
        self.record.operations.lock().unwrap().clone()
    }
}

impl Drop for HostilePrinter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn server_config(host: &str) -> Arc<rustls::ServerConfig> {
    let certified =
        rcgen::generate_simple_self_signed(vec![host.to_string(), "localhost".to_string()])
            .expect("certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("TLS config");
    config.send_tls13_tickets = 0;
    Arc::new(config)
}

struct Conn<'a> {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
    stop: &'a AtomicBool,
}

impl Conn<'_> {
    fn fill(&mut self) -> bool {
        let idle = Instant::now() + Duration::from_secs(30);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.stop.load(Ordering::SeqCst) || Instant::now() > idle {
                return false;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return false,
            }
        }
    }

    fn until(&mut self, delimiter: &[u8]) -> Option<Vec<u8>> {
        loop {
            if let Some(at) = self
                .buf
                .windows(delimiter.len())
                .position(|w| w == delimiter)
            {
                let line = self.buf[..at].to_vec();
                self.buf.drain(..at + delimiter.len());
                return Some(line);
            }
            if self.buf.len() > 1 << 20 || !self.fill() {
                return None;
            }
        }
    }

    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill() {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    /// One whole request: its IPP body (chunked or Content-Length).
    fn request(&mut self) -> Option<Vec<u8>> {
        let head = String::from_utf8_lossy(&self.until(b"\r\n\r\n")?).to_ascii_lowercase();
        let mut body = Vec::new();
        if head.contains("transfer-encoding: chunked") {
            loop {
                let line = String::from_utf8_lossy(&self.until(b"\r\n")?).into_owned();
                let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
                if size == 0 {
                    while !self.until(b"\r\n")?.is_empty() {}
                    return Some(body);
                }
                body.extend(self.take(size)?);
                self.take(2)?;
            }
        }
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        body.extend(self.take(length)?);
        Some(body)
    }

    /// Writes `bytes`; false once the client is gone.
    fn send(&mut self, bytes: &[u8]) -> bool {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                return false;
            }
            match self.stream.write(rest) {
                Ok(0) => return false,
                Ok(n) => rest = &rest[n..],
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return false,
            }
        }
        self.stream.flush().is_ok()
    }
}

fn serve(
    stream: Box<dyn Stream>,
    reply: JobReply,
    uris: &[String],
    record: &Record,
    stop: &AtomicBool,
) {
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        stop,
    };
    let Some(request) = conn.request() else {
        return;
    };
    if request.len() < 8 {
        return;
    }
    let operation = u16::from_be_bytes([request[2], request[3]]);
    record.operations.lock().unwrap().push(operation);
    let id = [request[4], request[5], request[6], request[7]];
    let plain = |ipp: Vec<u8>| {
        let mut http = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            ipp.len()
        )
        .into_bytes();
        http.extend(ipp);
        http
    };
    match (operation, reply) {
        (0x000B, _) => {
            conn.send(&plain(printer_attributes(id, uris)));
        }
        (0x0009, _) => {
            conn.send(&plain(job_answer(id, 9)));
        }
        (_, JobReply::Accept) => {
            conn.send(&plain(job_answer(id, 5)));
        }
        (_, crafted) => {
            let ipp = job_answer(id, 5);
            let mut head = b"HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let tail: Vec<u8> = match crafted {
                JobReply::HugeChunk => {
                    head.extend(b"4\r\n");
                    head.extend(&ipp[..4]);
                    head.extend(b"\r\nffffffffffffffff\r\n");
                    ipp.iter().cycle().take(64 * 1024).copied().collect()
                }
                _ => {
                    let mut one = b"1;pad=".to_vec();
                    one.extend(std::iter::repeat_n(b'x', 1000));
                    one.extend(b"\r\nA\r\n");
                    one.repeat(64)
                }
            };
            let mut ok = conn.send(&head);
            if ok {
                record.crafted_bytes.fetch_add(head.len(), Ordering::SeqCst);
            }
            while ok {
                ok = conn.send(&tail);
                if ok {
                    record.crafted_bytes.fetch_add(tail.len(), Ordering::SeqCst);
                }
            }
            if !stop.load(Ordering::SeqCst) {
                record.dropped.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

fn attr(out: &mut Vec<u8>, tag: u8, name: &str, value: &[u8]) {
    out.push(tag);
    out.extend((name.len() as u16).to_be_bytes());
    out.extend(name.as_bytes());
    out.extend((value.len() as u16).to_be_bytes());
    out.extend(value);
}

fn header(out: &mut Vec<u8>, id: [u8; 4]) {
    out.extend([1, 1, 0, 0]); // IPP/1.1, successful-ok
    out.extend(id);
    out.push(0x01);
    attr(out, 0x47, "attributes-charset", b"utf-8");
    attr(out, 0x48, "attributes-natural-language", b"en");
}

fn printer_attributes(id: [u8; 4], uris: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    header(&mut out, id);
    out.push(0x04);
    for (i, uri) in uris.iter().enumerate() {
        let name = if i == 0 { "printer-uri-supported" } else { "" };
        attr(&mut out, 0x45, name, uri.as_bytes());
    }
    attr(&mut out, 0x41, "printer-make-and-model", b"Hostile Printer");
    attr(&mut out, 0x23, "printer-state", &3u32.to_be_bytes());
    attr(&mut out, 0x44, "printer-state-reasons", b"none");
    attr(&mut out, 0x22, "printer-is-accepting-jobs", &[1]);
    attr(
        &mut out,
        0x49,
        "document-format-supported",
        b"application/pdf",
    );
    attr(&mut out, 0x49, "", b"application/octet-stream");
    out.push(0x03);
    out
}

fn job_answer(id: [u8; 4], state: u32) -> Vec<u8> {
    let mut out = Vec::new();
    header(&mut out, id);
    out.push(0x02);
    attr(&mut out, 0x21, "job-id", &1u32.to_be_bytes());
    attr(&mut out, 0x23, "job-state", &state.to_be_bytes());
    out.push(0x03);
    out
}
