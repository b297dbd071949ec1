//! Interop: CUPS's own conformance suites (`ipptool` from Debian's cups-ipp-utils)
//! against the secure queue over IPPS with credentials. `ipp-everywhere.test`
//! includes `ipp-2.0.test`, which includes `ipp-1.1.test`.
//!
//! One test cannot pass on a queue that holds every job: "Get-Job-Attributes Until
//! Job Complete" polls for 145 s for the job to finish printing, but a parked job is
//! held (`pending-held`, `job-hold-until` indefinite) until its owner releases it
//! at a printer — RFC 8011 §5.2.2 and PWG 5100.x: a held job is not a candidate for
//! processing. The test asserts that exactly that one fails.
//!
//! ipptool runs with `-T 30` (an I/O time-out), as CUPS's own backends read: with a
//! time-out, GnuTLS-based CUPS read a TLS 1.3 session ticket as the end of the
//! response (0 bytes), which is why the server sends no tickets (`tls.rs`).

use crate::support;

use std::path::Path;
use std::process::Command;

use printpark::identity::{ClientInfo, NewUserRequest};
use printpark::jobs::{Compression, Submission};
use support::{Backend, TestServer};

const KNOWN_HELD_QUEUE_FAILURES: &[&str] = &["Get-Job-Attributes Until Job Complete"];

fn gs(args: &[&str]) {
    let status = Command::new("gs")
        .args(["-q", "-dBATCH", "-dNOPAUSE", "-dSAFER"])
        .args(args)
        .status()
        .expect("ghostscript (gs) is installed by tests/run.sh");
    assert!(status.success(), "gs {args:?}");
}

/// The sample files the suites read: our own documents, and PWG raster renderings of
/// them for what the queue advertises (300 dpi; black-1, sgray-8, srgb-8). The suite
/// aborts on any missing FILE, so the others are empty placeholders (skipped tests).
fn samples(dir: &Path) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/documents");
    for name in [
        "document-a4.pdf",
        "document-letter.pdf",
        "document-a4.ps",
        "document-letter.ps",
        "color.jpg",
        "gray.jpg",
    ] {
        std::fs::copy(fixtures.join(name), dir.join(name)).unwrap();
    }
    let d = |n: &str| dir.join(n).display().to_string();
    gs(&[
        "-sDEVICE=pdfwrite",
        "-dFirstPage=1",
        "-dLastPage=1",
        &format!("-sOutputFile={}", d("onepage-a4.pdf")),
        &d("document-a4.pdf"),
    ]);
    gs(&[
        "-sDEVICE=pdfwrite",
        "-dFirstPage=1",
        "-dLastPage=1",
        &format!("-sOutputFile={}", d("onepage-letter.pdf")),
        &d("document-letter.pdf"),
    ]);
    let viewjpeg = std::fs::read_dir("/usr/share/ghostscript")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("lib/viewjpeg.ps"))
        .find(|p| p.exists())
        .expect("viewjpeg.ps");
    for jpg in ["color.jpg", "gray.jpg"] {
        let out = format!("-sOutputFile={}", d(&format!("{jpg}-4x6.pdf")));
        gs(&[
            "-sDEVICE=pdfwrite",
            "-dDEVICEWIDTHPOINTS=288",
            "-dDEVICEHEIGHTPOINTS=432",
            "-dFIXEDMEDIA",
            &out,
            viewjpeg.to_str().unwrap(),
            "-c",
            &format!("({}) viewJPEG", d(jpg)),
        ]);
    }
    let docs = [
        "color.jpg-4x6",
        "gray.jpg-4x6",
        "document-a4",
        "document-letter",
        "onepage-a4",
        "onepage-letter",
    ];
    for dpi in [150, 180, 300, 360, 600, 720] {
        for (kind, space, bits) in [
            ("black-1", "3", "1"),
            ("sgray-8", "18", "8"),
            ("srgb-8", "19", "8"),
            ("srgb-16", "19", "16"),
            ("cmyk-8", "6", "8"),
        ] {
            let folder = dir.join(format!("pwg-raster-samples-{dpi}dpi/{kind}"));
            std::fs::create_dir_all(&folder).unwrap();
            for doc in docs {
                let file = folder.join(format!("{doc}-{kind}-{dpi}dpi.pwg"));
                let advertised = dpi == 300 && matches!(kind, "black-1" | "sgray-8" | "srgb-8");
                if advertised {
                    let source = d(&format!("{doc}.pdf"));
                    gs(&[
                        "-sDEVICE=pwgraster",
                        &format!("-r{dpi}"),
                        &format!("-dcupsColorSpace={space}"),
                        &format!("-dcupsBitsPerColor={bits}"),
                        &format!("-sOutputFile={}", file.display()),
                        &source,
                    ]);
                } else {
                    std::fs::write(&file, b"").unwrap();
                }
            }
        }
    }
}

#[tokio::test]
async fn cups_ipptool_everywhere_suite_passes_except_the_wait_for_printing() {
    let server = TestServer::start(Backend::Sqlite).await;
    let info = ClientInfo::default();
    let request = NewUserRequest {
        username: "tester".into(),
        email: "tester@example.org".into(),
        password: Some("tester password".into()),
        ..Default::default()
    };
    let tester = server
        .services
        .identity
        .create_user(None, &request, &info)
        .await
        .unwrap();
    // A finished (cancelled) job in the history, as any queue in use has: the suite's
    // which-jobs=completed and "Cancel-Job (completed job)" tests read it.
    let submission = Submission {
        name: "earlier",
        format: "application/pdf",
        copies: 1,
        sides: printpark::jobs::Sides::OneSided,
        source: "portal",
        compression: Compression::None,
        color_mode: printpark::jobs::ColorMode::Auto,
        accept: None,
        page_ranges: None,
    };
    let job = server
        .services
        .jobs
        .park(&tester, &submission, &mut &b"%PDF-1.4 earlier"[..], &info)
        .await
        .unwrap();
    server
        .services
        .jobs
        .delete(&tester, job.id, &info)
        .await
        .unwrap();

    let work = tempfile::tempdir().unwrap();
    samples(work.path());
    let uri = format!(
        "{}/ipp/print",
        server
            .base
            .replace("https://", "ipps://tester:tester%20password@")
    );
    let dir = work.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("ipptool")
            .current_dir(&dir)
            .args([
                "-tI",
                "-T",
                "30",
                "-h",
                "-V",
                "2.0",
                "-f",
                "onepage-a4.pdf",
                &uri,
                "ipp-everywhere.test",
            ])
            .output()
            .expect("ipptool is installed by tests/run.sh")
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    println!("{report}");
    assert!(
        !report.contains("cannot be read"),
        "a sample file is missing:\n{report}"
    );
    let failed: Vec<&str> = report
        .lines()
        .filter(|l| l.trim_end().ends_with("[FAIL]"))
        .map(|l| l.trim().trim_end_matches("[FAIL]").trim())
        .collect();
    assert_eq!(
        failed, KNOWN_HELD_QUEUE_FAILURES,
        "unexpected failures:\n{report}"
    );
    let summary = report
        .lines()
        .find(|l| l.starts_with("Summary:"))
        .expect("summary line");
    let passed: usize = summary
        .split(", ")
        .nth(1)
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("passed count");
    // The summary counts ipp-everywhere's own tests: the attribute test and one print
    // per sample it may send (300 dpi; black-1, sgray-8, srgb-8; none/deflate/gzip).
    assert!(passed >= 52 && summary.contains(" 0 failed"), "{summary}");
    let passes = report
        .lines()
        .filter(|l| l.trim_end().ends_with("[PASS]"))
        .count();
    assert!(passes >= 90, "{passes} tests passed in all three files");
    // The print tests really parked their jobs (pages analysed from the PWG raster).
    let held = server.services.jobs.held_jobs_of(&tester).await.unwrap();
    assert!(
        held.iter()
            .any(|j| j.format == "image/pwg-raster" && j.pages == Some(2)),
        "no analysed raster job among {} held",
        held.len()
    );
    server.stop().await;
}

/// CUPS's `ipp-1.1.test` (issue 20, item 9) against the queue the way a person uses
/// it: they printed a job and cancelled it (CUPS's own print-job.test and
/// cancel-current-job.test, in the same ipptool run), so the queue has job history —
/// which-jobs=completed lists the cancelled job and Cancel-Job on it answers
/// client-error-not-possible. Only the wait for a held job to print fails.
async fn cups_ipptool_ipp_1_1_suite_passes_with_history(backend: Backend) {
    let server = TestServer::start(backend).await;
    support::create_user(&server, "tester", "tester password").await;
    let work = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/documents");
    std::fs::copy(
        fixtures.join("document-a4.pdf"),
        work.path().join("document-a4.pdf"),
    )
    .unwrap();
    let uri = format!(
        "{}/ipp/print",
        server
            .base
            .replace("https://", "ipps://tester:tester%20password@")
    );
    let dir = work.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("ipptool")
            .current_dir(&dir)
            .args([
                // -I: go on after the one failure (the wait for printing).
                "-tI",
                "-T",
                "30",
                "-V",
                "1.1",
                "-f",
                "document-a4.pdf",
                &uri,
                "print-job.test",
                "cancel-current-job.test",
                "ipp-1.1.test",
            ])
            .output()
            .expect("ipptool is installed by tests/run.sh")
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    println!("{report}");
    let failed: Vec<&str> = report
        .lines()
        .filter(|l| l.trim_end().ends_with("[FAIL]"))
        .map(|l| l.trim().trim_end_matches("[FAIL]").trim())
        .collect();
    assert_eq!(
        failed, KNOWN_HELD_QUEUE_FAILURES,
        "unexpected failures:\n{report}"
    );
    for must_pass in [
        // ipptool cuts names at 68 characters.
        "Get-Jobs Operation (which-jobs=completed",
        "Cancel-Job Operation (completed job",
        "Cancel current job",
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.contains(must_pass) && l.trim_end().ends_with("[PASS]")),
            "{must_pass} did not pass:\n{report}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn cups_ipptool_ipp_1_1_suite_passes_with_history_sqlite() {
    cups_ipptool_ipp_1_1_suite_passes_with_history(Backend::Sqlite).await;
}

#[tokio::test]
async fn cups_ipptool_ipp_1_1_suite_passes_with_history_postgres() {
    cups_ipptool_ipp_1_1_suite_passes_with_history(Backend::Postgres).await;
}
