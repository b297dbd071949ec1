//! Conversion at delivery (issue 17): pages per second, CPU, peak memory and time to
//! first byte converting a mixed text/image PDF at 300 dpi to PWG raster, Apple raster
//! (URF) and PCL XL, by PrintPark's converter and, in the same run, by CUPS's own
//! filter chain (`cupsfilter`, Debian `cups` + `cups-filters`) doing the same.
//!
//! Run: `cargo bench --bench convert` (about two minutes after the build). Options
//! after `--`: `--pages N` (100), `--small N` (10: the run that shows whether memory
//! grows with the page count), `--targets pwg,urf,pclxl`, `--timeout S` (per run,
//! 600), `--keep` (keep the temporary dir with the PDFs); `--count pwg|urf|pclxl FILE`
//! only runs the bench's page counter on a file.
//!
//! - The document is made at bench time (`convert/fixture.rs`): A4, text pages, every
//!   third page a 1500×1000 photo-like colour image, distilled by Ghostscript's
//!   pdfwrite; `pdfinfo` checks its page count.
//! - **Ours**: `printpark::convert::Converter` with the release build of the
//!   `printpark` binary as its worker (`printpark convert`, which runs Ghostscript):
//!   `start(&Spec, file)` and the `Converted` stream read to its end.
//! - **CUPS**: `cupsfilter` with the PPD CUPS would use for such a printer:
//!   `bench/convert/ipp-everywhere-pwg.ppd` and `airprint-urf-300dpi.ppd` were made by
//!   cups-filters' `driverless` from an `ippeveprinter` (see bench/README.md), PCL XL
//!   uses cups-filters' own `pxlcolor.ppd` (its `gstopxl` filter).
//! - Each run is a fresh child process of this bench (`--one SIDE TARGET PDF`), so its
//!   `getrusage(RUSAGE_CHILDREN)` covers exactly that conversion's processes: for ours
//!   the worker and Ghostscript, for CUPS cupsfilter and every filter it ran. CPU is
//!   their sum; "peak max" is the largest single process's peak RSS (exact); "peak
//!   sum" is the peak of the summed RSS of all of them, sampled every 20 ms (a short
//!   spike can be missed). The reading side (this bench, and for ours the
//!   Converter's client half, which runs in the server) is shown apart as "client CPU".
//! - Pages are counted in the output by the bench's own parsers (`convert/count.rs`):
//!   PWG and URF page headers found by decoding every line, PCL XL `BeginPage` /
//!   `EndPage` operators. A run with the wrong count or a malformed stream is a failure,
//!   and a comparison with a failed or stalled CUPS run is refused, not made.
//! - Time to first byte: from the call to `start` (ours) or the spawn of cupsfilter
//!   to the first output byte read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark that cannot go on stops with the reason"
)]

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use printpark::convert::{Converter, Duplex, Format, Spec};
use tokio::io::AsyncReadExt as _;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;
#[path = "convert/count.rs"]
mod count;
#[path = "convert/fixture.rs"]
mod fixture;

use common::{all_processes_cpu, load_average, machine, others_cpu};

const CUPSFILTER: &str = "/usr/sbin/cupsfilter";
const A4: &str = "iso_a4_210x297mm";

/// Pages, PrintPark's run, CUPS's run.
type Measured = (u32, Run, Run);

/// One output format, and how CUPS makes it.
struct Target {
    key: &'static str,
    format: Format,
    /// `cupsfilter` arguments before the file (the PPD, the destination type, options).
    cups: &'static [&'static str],
    /// The chain cupsfilter runs, for the output.
    chain: &'static str,
}

fn targets() -> Vec<Target> {
    vec![
        Target {
            key: "pwg",
            format: Format::PwgRaster,
            cups: &[
                "-p",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/bench/convert/ipp-everywhere-pwg.ppd"
                ),
                "-m",
                "image/pwg-raster",
                "-o",
                "Resolution=300dpi",
                "-o",
                "PageSize=A4",
                "-o",
                "ColorModel=RGB",
            ],
            chain: "pdftopdf | gstoraster",
        },
        Target {
            key: "urf",
            format: Format::Urf,
            cups: &[
                "-p",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/bench/convert/airprint-urf-300dpi.ppd"
                ),
                "-m",
                "image/urf",
                "-o",
                "PageSize=A4",
                "-o",
                "ColorModel=RGB",
            ],
            chain: "pdftopdf | gstoraster | rastertopwg",
        },
        Target {
            key: "pclxl",
            format: Format::PclXl,
            cups: &[
                "-p",
                "/usr/share/ppd/cupsfilters/pxlcolor.ppd",
                "-m",
                "printer/pxlcolor",
                "-e",
                "-o",
                "Resolution=300dpi",
                "-o",
                "PageSize=A4",
                "-o",
                "ColorModel=RGB",
            ],
            chain: "pdftopdf | gstopxl (gs -sDEVICE=pxlcolor)",
        },
    ]
}

// ---------------------------------------------------------------------------------
// One run, in a child process of its own

/// What one run measured (printed by the child as `RESULT key=value …`).
#[derive(Debug, Default, Clone)]
struct Run {
    pages: u32,
    bytes: u64,
    first_byte_ms: Option<f64>,
    wall_ms: f64,
    /// CPU of the conversion's processes (getrusage of the reaped children).
    cpu_s: f64,
    /// CPU of the reading side (this child: reads, counts; ours: the client half).
    client_cpu_s: f64,
    peak_max_kib: u64,
    peak_sum_kib: u64,
    size: Option<(u32, u32, u32)>,
    error: Option<String>,
    /// Filled in by the parent.
    others_cpu_s: f64,
    load: String,
}

/// Pids of every descendant of `root` (from /proc/*/stat's parent pids).
fn descendants(root: u32) -> Vec<u32> {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let f = common::stat_fields(Some(pid));
            if let Some(ppid) = f.get(1) {
                parent.insert(pid, *ppid as u32);
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (child, pp) in &parent {
            if *pp == p {
                out.push(*child);
                frontier.push(*child);
            }
        }
    }
    out
}

/// Samples the summed RSS of this process's descendants every 20 ms until stopped.
fn sample_tree(stop: Arc<AtomicBool>, peak: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let me = std::process::id();
        while !stop.load(Ordering::Relaxed) {
            let sum: u64 = descendants(me)
                .into_iter()
                .filter_map(|pid| common::proc_status_kib(pid, "VmRSS:"))
                .sum();
            peak.fetch_max(sum, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

fn cups_run(target: &Target, pdf: &Path, run: &mut Run, counter: &mut dyn count::Counter) {
    let log = pdf.with_extension(format!("cupsfilter-{}.log", target.key));
    let started = Instant::now();
    let child = Command::new(CUPSFILTER)
        .args(target.cups)
        .arg(pdf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            run.error = Some(format!("{CUPSFILTER}: {e} (Debian cups)"));
            return;
        }
    };
    let mut out = child.stdout.take().expect("stdout");
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if run.first_byte_ms.is_none() {
                    run.first_byte_ms = Some(started.elapsed().as_secs_f64() * 1e3);
                }
                run.bytes += n as u64;
                counter.feed(&buf[..n]);
            }
            Err(e) => {
                run.error = Some(format!("reading cupsfilter: {e}"));
                break;
            }
        }
    }
    run.wall_ms = started.elapsed().as_secs_f64() * 1e3;
    let status = child.wait().expect("wait");
    if !status.success() && run.error.is_none() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ERROR"))
            .take(3)
            .collect();
        run.error = Some(format!("cupsfilter {status}: {}", errors.join(" / ")));
    }
}

async fn ours_run(target: &Target, pdf: &Path, run: &mut Run, counter: &mut dyn count::Counter) {
    let converter = Converter::new(Some(PathBuf::from(env!("CARGO_BIN_EXE_printpark"))));
    let spec = Spec {
        from: Format::Pdf,
        to: target.format,
        gray: false,
        page_ranges: None,
        duplex: Duplex::OneSided,
        dpi: 300,
        media: Some(A4.into()),
    };
    let file = tokio::fs::File::open(pdf).await.expect("fixture");
    let started = Instant::now();
    // In a block of its own: the stream (and the worker it holds) ends with it.
    {
        let mut converted = match converter.start(&spec, Box::new(file)).await {
            Ok(c) => c,
            Err(e) => {
                run.error = Some(format!("Converter::start: {e}"));
                run.wall_ms = started.elapsed().as_secs_f64() * 1e3;
                return;
            }
        };
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match converted.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    if run.first_byte_ms.is_none() {
                        run.first_byte_ms = Some(started.elapsed().as_secs_f64() * 1e3);
                    }
                    run.bytes += n as u64;
                    counter.feed(&buf[..n]);
                }
                Err(e) => {
                    run.error = Some(format!("reading the converted stream: {e}"));
                    break;
                }
            }
        }
        run.wall_ms = started.elapsed().as_secs_f64() * 1e3;
    }
    // The worker (and its Ghostscript) must be reaped for getrusage to count them.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !descendants(std::process::id()).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `--one SIDE TARGET PDF`: one run, its figures on stdout.
fn one(side: &str, key: &str, pdf: &Path) {
    let target = targets()
        .into_iter()
        .find(|t| t.key == key)
        .expect("target");
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = sample_tree(stop.clone(), peak.clone());
    let mut run = Run::default();
    let mut counter = count::for_target(key);
    if side == "cups" {
        cups_run(&target, pdf, &mut run, counter.as_mut());
    } else {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(ours_run(&target, pdf, &mut run, counter.as_mut()));
        rt.shutdown_timeout(Duration::from_secs(5));
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().ok();
    let counted = counter.finish();
    run.pages = counted.pages;
    run.size = counted.first_page;
    if run.error.is_none() {
        run.error = counted.error;
    }
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    run.cpu_s = secs(usage.user_time()) + secs(usage.system_time());
    run.peak_max_kib = usage.max_rss() as u64;
    run.peak_sum_kib = peak.load(Ordering::Relaxed);
    run.client_cpu_s = common::cpu_secs(None, false);
    let (w, h, dpi) = run.size.unwrap_or((0, 0, 0));
    println!(
        "RESULT pages={} bytes={} first_byte_ms={} wall_ms={} cpu_s={} client_cpu_s={} \
         peak_max_kib={} peak_sum_kib={} size={w}x{h}x{dpi} error={}",
        run.pages,
        run.bytes,
        run.first_byte_ms.unwrap_or(-1.0),
        run.wall_ms,
        run.cpu_s,
        run.client_cpu_s,
        run.peak_max_kib,
        run.peak_sum_kib,
        run.error.unwrap_or_default().replace('\n', " ")
    );
}

fn parse_result(line: &str) -> Run {
    let mut run = Run::default();
    let (fields, error) = line.split_once(" error=").unwrap_or((line, ""));
    for field in fields.split_whitespace().skip(1) {
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        match k {
            "pages" => run.pages = v.parse().unwrap_or(0),
            "bytes" => run.bytes = v.parse().unwrap_or(0),
            "first_byte_ms" => run.first_byte_ms = v.parse().ok().filter(|v: &f64| *v >= 0.0),
            "wall_ms" => run.wall_ms = v.parse().unwrap_or(0.0),
            "cpu_s" => run.cpu_s = v.parse().unwrap_or(0.0),
            "client_cpu_s" => run.client_cpu_s = v.parse().unwrap_or(0.0),
            "peak_max_kib" => run.peak_max_kib = v.parse().unwrap_or(0),
            "peak_sum_kib" => run.peak_sum_kib = v.parse().unwrap_or(0),
            "size" => {
                let p: Vec<u32> = v.split('x').filter_map(|n| n.parse().ok()).collect();
                if p.len() == 3 && p[0] > 0 {
                    run.size = Some((p[0], p[1], p[2]));
                }
            }
            _ => {}
        }
    }
    if !error.trim().is_empty() {
        run.error = Some(error.trim().to_owned());
    }
    run
}

/// Runs `--one` in a child process (its own process group, killed whole on time-out).
/// The 1-minute load average.
fn load_1min() -> String {
    load_average()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_owned()
}

fn measure(side: &str, key: &str, pdf: &Path, timeout: Duration) -> Run {
    use std::os::unix::process::CommandExt as _;
    let before = all_processes_cpu();
    let load_before = load_1min();
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--one", side, key])
        .arg(pdf)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bench child");
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let mut stalled = false;
    loop {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        if started.elapsed() > timeout {
            stalled = true;
            if let Some(group) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = reader.join().unwrap_or_default();
    let after = all_processes_cpu();
    let mut run = match text.lines().find(|l| l.starts_with("RESULT ")) {
        Some(line) => parse_result(line),
        None => Run {
            error: Some("the run printed no result".into()),
            ..Run::default()
        },
    };
    if stalled {
        run.error = Some(format!("stalled: killed after {} s", timeout.as_secs()));
    }
    run.others_cpu_s = others_cpu(&before, &after, &[std::process::id(), pid]);
    run.load = format!("{load_before}->{}", load_1min());
    run
}

// ---------------------------------------------------------------------------------
// Report

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn pages_per_s(run: &Run) -> f64 {
    if run.wall_ms > 0.0 {
        f64::from(run.pages) * 1e3 / run.wall_ms
    } else {
        0.0
    }
}

/// Why a run does not count: an error, no pages, or the wrong number.
fn fault(run: &Run, expected: u32) -> Option<String> {
    if let Some(e) = &run.error {
        return Some(e.clone());
    }
    if run.pages != expected {
        return Some(format!("{} pages counted, {expected} expected", run.pages));
    }
    None
}

fn row(label: &str, pages: u32, run: &Run) {
    let size = run
        .size
        .map(|(w, h, d)| format!("{w}x{h}@{d}"))
        .unwrap_or_else(|| "-".into());
    println!(
        "{label:<10} {pages:>5} {:>8.2} {:>8.3} {:>7.3} {:>7.3} {:>8} {:>8} {:>9} {:>9.1} {:>14} {:>7.2}  {}",
        pages_per_s(run),
        run.wall_ms / 1e3,
        run.cpu_s,
        run.client_cpu_s,
        mib(run.peak_max_kib),
        mib(run.peak_sum_kib),
        run.first_byte_ms
            .map(|v| format!("{v:.1}"))
            .unwrap_or_else(|| "-".into()),
        run.bytes as f64 / 1e6,
        size,
        run.others_cpu_s,
        match fault(run, pages) {
            Some(why) => format!("FAILED: {why}"),
            None => format!("ok ({} pages counted)", run.pages),
        }
    );
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn tool_version(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "not found".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        one(&args[i + 1], &args[i + 2], Path::new(&args[i + 3]));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--count") {
        // `--count TARGET FILE`: the bench's page counter on a file (to check it).
        let mut counter = count::for_target(&args[i + 1]);
        let mut file = std::fs::File::open(&args[i + 2]).expect("file");
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            counter.feed(&buf[..n]);
        }
        println!("{:?}", counter.finish());
        return;
    }
    let big: u32 = arg(&args, "--pages", 100);
    let small: u32 = arg(&args, "--small", 10);
    let timeout = Duration::from_secs(arg(&args, "--timeout", 600));
    let wanted: String = arg(&args, "--targets", "pwg,urf,pclxl".to_owned());
    let keep = args.iter().any(|a| a == "--keep");

    println!("PrintPark conversion benchmark: {big} and {small} pages, 300 dpi, A4");
    println!("machine: {}, load average {}", machine(), load_average());
    println!(
        "ghostscript {}, cups {}, cups-filters {}",
        tool_version("gs", &["--version"]),
        tool_version("dpkg-query", &["-W", "-f", "${Version}", "cups"]),
        tool_version("dpkg-query", &["-W", "-f", "${Version}", "cups-filters"])
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let made = Instant::now();
    let docs: Vec<(u32, PathBuf)> = [big, small]
        .into_iter()
        .map(|n| match fixture::make_pdf(dir.path(), n) {
            Ok(pdf) => (n, pdf),
            Err(e) => panic!("the bench document: {e}"),
        })
        .collect();
    println!(
        "document: {} ({} bytes) and {} ({} bytes), made in {:.1} s; page count checked with pdfinfo",
        docs[0].1.file_name().unwrap().to_string_lossy(),
        std::fs::metadata(&docs[0].1).map(|m| m.len()).unwrap_or(0),
        docs[1].1.file_name().unwrap().to_string_lossy(),
        std::fs::metadata(&docs[1].1).map(|m| m.len()).unwrap_or(0),
        made.elapsed().as_secs_f64()
    );
    let ours_ready = Converter::new(Some(PathBuf::from(env!("CARGO_BIN_EXE_printpark")))).check();
    if let Err(e) = &ours_ready {
        println!("PrintPark's converter says it cannot run here: {e}");
    }

    // target key → pages → (ours, cups)
    let mut results: Vec<(Target, Vec<Measured>)> = Vec::new();
    for target in targets()
        .into_iter()
        .filter(|t| wanted.split(',').any(|w| w.trim() == t.key))
    {
        let mut runs = Vec::new();
        for (n, pdf) in &docs {
            let ours = measure("ours", target.key, pdf, timeout);
            let cups = measure("cups", target.key, pdf, timeout);
            runs.push((*n, ours, cups));
        }
        results.push((target, runs));
    }

    println!();
    println!(
        "{:<10} {:>5} {:>8} {:>8} {:>7} {:>7} {:>8} {:>8} {:>9} {:>9} {:>14} {:>7}  result",
        "side",
        "pages",
        "pages/s",
        "wall s",
        "CPU s",
        "client",
        "peak max",
        "peak sum",
        "1st byte",
        "output",
        "first page",
        "others"
    );
    println!(
        "{:<10} {:>5} {:>8} {:>8} {:>7} {:>7} {:>8} {:>8} {:>9} {:>9} {:>14} {:>7}",
        "", "", "", "", "", "CPU s", "MiB", "MiB", "ms", "MB", "px@dpi", "CPU s"
    );
    for (target, runs) in &results {
        println!(
            "-- {} ({}); CUPS: cupsfilter {} ({})",
            target.format.label(),
            target.format.mime(),
            target.cups.join(" "),
            target.chain
        );
        for (n, ours, cups) in runs {
            row("PrintPark", *n, ours);
            row("CUPS", *n, cups);
        }
    }
    println!(
        "(CPU s: the conversion's processes, getrusage of the reaped children: ours = worker + gs, \
         CUPS = cupsfilter + its filters + gs; client CPU s: the reading process, for ours also the \
         Converter's client half; peak max: the largest single process's peak RSS (exact); peak sum: \
         the summed RSS of all of them, sampled every 20 ms; others: CPU used meanwhile by other \
         processes on the machine)"
    );
    let loads: Vec<String> = results
        .iter()
        .flat_map(|(t, runs)| {
            runs.iter()
                .map(move |(n, o, c)| format!("{} {n}: {} / {}", t.key, o.load, c.load))
        })
        .collect();
    println!(
        "1-minute load average before->after each run (ours / CUPS): {}",
        loads.join("; ")
    );

    println!();
    for (target, runs) in &results {
        let label = target.format.label();
        let Some((_, ours, cups)) = runs.iter().find(|(n, _, _)| *n == big) else {
            continue;
        };
        let small_runs = runs.iter().find(|(n, _, _)| *n == small);
        // Aim 1: at least the CUPS chain's pages per second.
        match (fault(ours, big), fault(cups, big)) {
            (_, Some(why)) => println!(
                "{label}: speed comparison REFUSED: the CUPS chain did not deliver ({why})"
            ),
            (Some(why), None) => println!("{label}: speed NOT MET: PrintPark failed ({why})"),
            (None, None) => {
                let (a, b) = (pages_per_s(ours), pages_per_s(cups));
                println!(
                    "{label}: speed {} ({a:.2} vs CUPS {b:.2} pages/s = {:.3}x)",
                    if a >= b { "MET" } else { "NOT MET" },
                    a / b
                );
            }
        }
        // Aim 2: memory flat in the page count (100-page peak within 20 % of 10-page).
        if let Some((_, ours_small, cups_small)) = small_runs {
            let flat = |big: &Run, small: &Run| {
                let ok = |b: u64, s: u64| (b as f64) <= (s as f64) * 1.2;
                ok(big.peak_max_kib, small.peak_max_kib) && ok(big.peak_sum_kib, small.peak_sum_kib)
            };
            match (fault(ours, big), fault(ours_small, small)) {
                (None, None) => println!(
                    "{label}: memory flat {} (peak max {} -> {} MiB, peak sum {} -> {} MiB for {small} -> {big} pages; CUPS {} -> {} / {} -> {} MiB)",
                    if flat(ours, ours_small) {
                        "MET"
                    } else {
                        "NOT MET"
                    },
                    mib(ours_small.peak_max_kib),
                    mib(ours.peak_max_kib),
                    mib(ours_small.peak_sum_kib),
                    mib(ours.peak_sum_kib),
                    mib(cups_small.peak_max_kib),
                    mib(cups.peak_max_kib),
                    mib(cups_small.peak_sum_kib),
                    mib(cups.peak_sum_kib),
                ),
                _ => println!("{label}: memory flat NOT SHOWN: a PrintPark run failed"),
            }
        }
        // Aim 3: first byte within a second.
        match (fault(ours, big), ours.first_byte_ms) {
            (None, Some(ms)) => println!(
                "{label}: first byte < 1 s {} ({ms:.1} ms; CUPS {})",
                if ms < 1000.0 { "MET" } else { "NOT MET" },
                cups.first_byte_ms
                    .map(|v| format!("{v:.1} ms"))
                    .unwrap_or_else(|| "-".into())
            ),
            _ => println!("{label}: first byte NOT SHOWN: the PrintPark run failed"),
        }
    }
    if keep {
        let kept = dir.keep();
        println!("kept: {}", kept.display());
    }
}
