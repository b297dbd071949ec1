//! Sealing and opening speed and memory of the vault's stream format.
//!
//! Run: `cargo bench --bench seal` (add `-- --size-mib 256` for a quicker run).
//!
//! Each measurement runs in a fresh child process so its peak resident memory
//! (VmHWM) is its own. Printed side by side:
//! - the ceiling: raw AES-256-GCM of the same crate (`aes-gcm`) over the same chunk
//!   size, in place, no I/O — what sealing could reach at best on this machine;
//! - the same with aws-lc-rs (the TLS stack's AES-GCM), for reference;
//! - seal: `ChunkSealer` over a generated stream into a sink;
//! - open: `SealedReader` over the sealed stream from a file into a sink;
//! - the full vault on local disk (seal with fsync; open), as the server does it.
//!   Peak memory is shown for two sizes to show it does not grow with the document.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark that cannot go on stops with the reason"
)]

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit, Nonce};
use printpark::vault::stream::{ChunkSealer, SealedReader, seal_to_writer};
use printpark::vault::{BlobId, DataKey, MasterKey};
use tokio::io::AsyncRead;

const CHUNK: usize = 64 * 1024;
const MIB: u64 = 1024 * 1024;

/// A document produced on the fly from a 1 MiB block of random bytes (never held in
/// memory whole); reading it costs a memcpy, like reading from a socket buffer.
struct Generated {
    left: u64,
    block: Vec<u8>,
    offset: usize,
}

impl Generated {
    fn new(size: u64) -> Self {
        let mut block = vec![0u8; 1024 * 1024];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        Self {
            left: size,
            block,
            offset: 0,
        }
    }
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let n = (buf.remaining() as u64)
            .min(this.left)
            .min((this.block.len() - this.offset) as u64) as usize;
        buf.put_slice(&this.block[this.offset..this.offset + n]);
        this.offset = (this.offset + n) % this.block.len();
        this.left -= n as u64;
        std::task::Poll::Ready(Ok(()))
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

fn raw_aes_gcm(size: u64) -> f64 {
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let mut buf = vec![0u8; CHUNK];
    let started = Instant::now();
    let mut index = 0u64;
    let mut done = 0u64;
    while done < size {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&index.to_be_bytes());
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(nonce), b"aad", buf.as_mut_slice().into())
            .expect("encrypt");
        let _ = std::hint::black_box(tag);
        index += 1;
        done += CHUNK as u64;
    }
    started.elapsed().as_secs_f64()
}

fn raw_aws_lc(size: u64) -> f64 {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce as LcNonce, UnboundKey};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).expect("key"));
    let mut buf = vec![0u8; CHUNK];
    let started = Instant::now();
    let mut index = 0u64;
    let mut done = 0u64;
    while done < size {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&index.to_be_bytes());
        let tag = key
            .seal_in_place_separate_tag(
                LcNonce::assume_unique_for_key(nonce),
                Aad::from(b"aad"),
                &mut buf,
            )
            .expect("seal");
        let _ = std::hint::black_box(tag);
        index += 1;
        done += CHUNK as u64;
    }
    started.elapsed().as_secs_f64()
}

async fn seal_stream(size: u64) -> f64 {
    let key = DataKey::generate();
    let mut sealer = ChunkSealer::new(&key, "bench", CHUNK);
    let mut source = Generated::new(size);
    let mut sink = tokio::io::sink();
    let started = Instant::now();
    seal_to_writer(&mut sealer, &mut source, &mut sink)
        .await
        .expect("seal");
    started.elapsed().as_secs_f64()
}

async fn open_stream(size: u64, dir: &std::path::Path) -> f64 {
    let master = MasterKey::generate();
    let key = DataKey::generate();
    let wrapped = key.wrap(&master, "bench").expect("wrap");
    let path = dir.join("sealed.bin");
    {
        let mut sealer = ChunkSealer::new(&key, "bench", CHUNK);
        let mut file =
            tokio::io::BufWriter::new(tokio::fs::File::create(&path).await.expect("create"));
        seal_to_writer(&mut sealer, &mut Generated::new(size), &mut file)
            .await
            .expect("seal");
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .expect("flush");
    }
    let key = DataKey::unwrap(&master, &wrapped, "bench").expect("unwrap");
    let file = tokio::io::BufReader::with_capacity(
        256 * 1024,
        tokio::fs::File::open(&path).await.expect("open"),
    );
    let mut reader = SealedReader::new(file, key, "bench");
    let started = Instant::now();
    let n = reader.copy_to(&mut tokio::io::sink()).await.expect("open");
    assert_eq!(n, size);
    started.elapsed().as_secs_f64()
}

async fn vault_round_trip(size: u64, dir: &std::path::Path) -> (f64, f64) {
    let mut settings = printpark::config::Settings {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    settings.log.level = "error".into();
    let services = printpark::services::Services::start(settings)
        .await
        .expect("start");
    let id = BlobId::random();
    let started = Instant::now();
    services
        .vault
        .seal(&id, &mut Generated::new(size))
        .await
        .expect("seal");
    let seal = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut reader = services.vault.open_blob(&id).await.expect("open");
    let n = reader.copy_to(&mut tokio::io::sink()).await.expect("read");
    assert_eq!(n, size);
    (seal, started.elapsed().as_secs_f64())
}

/// Child mode: one measurement, printed as `seconds peak_kib`.
fn child(case: &str, size: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let secs = match case {
        "raw" => raw_aes_gcm(size),
        "raw-aws-lc" => raw_aws_lc(size),
        "seal" => rt.block_on(seal_stream(size)),
        "open" => rt.block_on(open_stream(size, dir.path())),
        "vault-seal" => rt.block_on(vault_round_trip(size, dir.path())).0,
        "vault-open" => rt.block_on(vault_round_trip(size, dir.path())).1,
        other => panic!("unknown case {other}"),
    };
    println!("{secs} {}", peak_rss_kib());
}

fn measure(case: &str, size: u64) -> (f64, u64) {
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args(["--child", case, &size.to_string()])
        .output()
        .expect("child");
    assert!(
        out.status.success(),
        "{case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let secs: f64 = parts.next().and_then(|s| s.parse().ok()).expect("seconds");
    let kib: u64 = parts.next().and_then(|s| s.parse().ok()).expect("kib");
    (secs, kib)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], args[i + 2].parse().expect("size"));
        return;
    }
    let size_mib: u64 = args
        .iter()
        .position(|a| a == "--size-mib")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let size = size_mib * MIB;
    let small = (size / 16).max(16 * MIB);
    println!(
        "PrintPark vault benchmark: {size_mib} MiB stream, {} KiB chunks, {} cores",
        CHUNK / 1024,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:<44} {:>10} {:>12} {:>14} {:>14}",
        "measurement", "MB/s", "% of ceiling", "peak RSS big", "peak RSS small"
    );
    let (ceiling_secs, ceiling_kib) = measure("raw", size);
    let ceiling = size as f64 / 1e6 / ceiling_secs;
    let (_, ceiling_small_kib) = measure("raw", small);
    let row = |name: &str, mbps: f64, big: u64, small_kib: u64| {
        println!(
            "{name:<44} {mbps:>10.0} {:>11.0}% {:>11} KiB {:>11} KiB",
            100.0 * mbps / ceiling,
            big,
            small_kib
        );
    };
    row(
        "ceiling: raw AES-256-GCM (aes-gcm, in place)",
        ceiling,
        ceiling_kib,
        ceiling_small_kib,
    );
    for (case, name) in [
        ("raw-aws-lc", "reference: raw AES-256-GCM (aws-lc-rs)"),
        ("seal", "seal stream (generator -> sink)"),
        ("open", "open stream (file -> sink)"),
        ("vault-seal", "vault seal, local disk, fsync"),
        ("vault-open", "vault open, local disk"),
    ] {
        let (secs, big) = measure(case, size);
        let (_, small_kib) = measure(case, small);
        row(name, size as f64 / 1e6 / secs, big, small_kib);
    }
    println!(
        "(peak RSS small = the same run with {} MiB: equal figures mean memory does not grow with size)",
        small / MIB
    );
    std::io::stdout().flush().ok();
}
