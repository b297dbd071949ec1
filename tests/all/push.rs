//! Push delivery (`release::push`) and the IPP client (`ipp::client`) against real
//! printers: ippeveprinter over IPP and IPPS, a raw 9100 listener, and scripted
//! printers for what ippeveprinter cannot do (stopped, hanging up, stalling).

use crate::support;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use printpark::ipp::client::{
    ClientError, PrinterState, Timeouts, get_printer_attributes, human_bytes,
};
use printpark::release::push::{
    Completion, DocumentSource, Protocol, PushError, PushJob, PushTarget, connect,
};
use printpark::tls::fingerprint;
use support::fixture_path;
use support::printer::{
    FakeBehaviour, FakePrinter, FakeStatus, JobBehaviour, PrinterOptions, TestPrinter,
    unreachable_uri,
};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Documents from memory or from fixture files (streamed from disk).
enum Docs {
    Files(Vec<std::path::PathBuf>),
    Bytes(Vec<Vec<u8>>),
}

impl DocumentSource for Docs {
    fn count(&self) -> u32 {
        match self {
            Docs::Files(f) => f.len() as u32,
            Docs::Bytes(b) => b.len() as u32,
        }
    }

    fn open(
        &mut self,
        number: u32,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Box<dyn AsyncRead + Send + Unpin>>> + Send + '_>>
    {
        Box::pin(async move {
            let i = number as usize - 1;
            Ok(match self {
                Docs::Files(files) => Box::new(tokio::fs::File::open(&files[i]).await?)
                    as Box<dyn AsyncRead + Send + Unpin>,
                Docs::Bytes(docs) => Box::new(std::io::Cursor::new(docs[i].clone())),
            })
        })
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

fn pdf_job() -> PushJob {
    PushJob {
        name: "push test".into(),
        user_name: "alice".into(),
        format: "application/pdf".into(),
        copies: 1,
        sides: "one-sided".into(),
        color_mode: "auto".into(),
        page_ranges: None,
        media: None,
    }
}

fn target(uri: &str, protocol: Protocol) -> PushTarget {
    PushTarget {
        uri: uri.into(),
        protocol,
        ..PushTarget::default()
    }
}

/// The converter of the tests' server: worker processes of the printpark binary.
fn converter() -> printpark::convert::Converter {
    printpark::convert::Converter::new(Some(support::binary()))
}

fn quick() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        handshake: Duration::from_secs(2),
        write: Duration::from_secs(2),
        response: Duration::from_secs(3),
    }
}

fn pem_sha256(pem: &str) -> String {
    let der = rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("PEM");
    fingerprint(der.as_ref())
}

#[tokio::test]
async fn pdf_reaches_ippeveprinter_over_ipp_byte_for_byte() {
    let printer = TestPrinter::start(PrinterOptions::named("Push IPP")).await;
    let report = get_printer_attributes(&printer.uri(), None, &Timeouts::default())
        .await
        .unwrap();
    let target = PushTarget {
        formats: report.formats.clone(),
        ..target(&printer.uri(), Protocol::Ipp)
    };
    let link = connect(&target, &pdf_job(), &Timeouts::default())
        .await
        .unwrap();
    assert_eq!(link.protocol(), Protocol::Ipp);
    assert_eq!(link.cert_sha256(), None);
    let mut docs = Docs::Files(vec![fixture_path("document-a4.pdf")]);
    let sent = link
        .send(&pdf_job(), &mut docs, &converter())
        .await
        .unwrap();
    let original = fixture("document-a4.pdf");
    assert!(sent.bytes_sent() > original.len() as u64);
    let jobs = printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(sent.printer_job_id(), Some(jobs[0].id as i32));
    assert_eq!(jobs[0].state, "completed");
    assert_eq!(jobs[0].user, "alice");
    let spooled = printer.spooled_files();
    assert_eq!(spooled.len(), 1);
    assert!(spooled[0].bytes() == original, "the spooled PDF differs");
}

#[tokio::test]
async fn pdf_reaches_ippeveprinter_over_ipps_and_its_certificate_is_pinned() {
    let printer = TestPrinter::start(PrinterOptions::named("Push IPPS")).await;
    let real = pem_sha256(&printer.cert_pem());
    // First contact over IPPS: no pin yet, the certificate is reported.
    let report = get_printer_attributes(&printer.ipps_uri(), None, &Timeouts::default())
        .await
        .unwrap();
    assert_eq!(report.cert_sha256.as_deref(), Some(real.as_str()));
    assert!(
        report
            .uris_supported
            .iter()
            .any(|u| u.starts_with("ipps://")),
        "{:?}",
        report.uris_supported
    );
    // The admin entered ipp://; auto prefers the ipps:// URI the printer offers.
    let target = PushTarget {
        uris_supported: report.uris_supported.clone(),
        formats: report.formats.clone(),
        tls_pin: Some(real.clone()),
        ..target(&printer.uri(), Protocol::Auto)
    };
    let link = connect(&target, &pdf_job(), &Timeouts::default())
        .await
        .unwrap();
    assert_eq!(link.protocol(), Protocol::Ipps);
    assert_eq!(link.cert_sha256(), Some(real.as_str()));
    let mut docs = Docs::Files(vec![fixture_path("document-a4.pdf")]);
    let sent = link
        .send(&pdf_job(), &mut docs, &converter())
        .await
        .unwrap();
    assert_eq!(sent.protocol(), Protocol::Ipps);
    printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    let spooled = printer.spooled_files();
    assert_eq!(spooled.len(), 1);
    assert!(spooled[0].bytes() == fixture("document-a4.pdf"));

    // Another certificate than the pinned one: refused before anything is sent, and
    // auto does not fall back to plain IPP.
    let wrong = "ab".repeat(32);
    let err = get_printer_attributes(&printer.ipps_uri(), Some(&wrong), &Timeouts::default())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ClientError::CertificateChanged {
            expected: wrong.clone(),
            got: real.clone()
        }
    );
    assert!(
        err.to_string()
            .starts_with("the printer's TLS certificate changed (expected sha256 abababab"),
        "{err}"
    );
    let pinned_wrong = PushTarget {
        tls_pin: Some(wrong),
        ..target.clone()
    };
    let err = connect(&pinned_wrong, &pdf_job(), &Timeouts::default())
        .await
        .unwrap_err();
    match &err {
        PushError::NotSent {
            reason,
            retry_later: false,
        } => assert!(reason.contains("TLS certificate changed"), "{reason}"),
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(printer.spooled_files().len(), 1, "nothing more was printed");
    assert_eq!(printer.jobs().await.len(), 1);
}

#[tokio::test]
async fn raw_port_receives_the_documents_bytes_unchanged() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut bytes = Vec::new();
        socket.read_to_end(&mut bytes).await.unwrap();
        bytes
    });
    let target = target(&format!("socket://127.0.0.1:{port}"), Protocol::Auto);
    let mut job = pdf_job();
    job.format = "application/postscript".into();
    let link = connect(&target, &job, &Timeouts::default()).await.unwrap();
    assert_eq!(link.protocol(), Protocol::Raw);
    let mut docs = Docs::Files(vec![
        fixture_path("document-a4.ps"),
        fixture_path("document-letter.ps"),
    ]);
    // The orchestrator runs deliveries as spawned tasks: the futures must be Send.
    let job_for_task = job.clone();
    let sent = tokio::spawn(async move { link.send(&job_for_task, &mut docs, &converter()).await })
        .await
        .unwrap()
        .unwrap();
    let mut expected = fixture("document-a4.ps");
    expected.extend(fixture("document-letter.ps"));
    assert_eq!(sent.bytes_sent(), expected.len() as u64);
    assert_eq!(sent.printer_job_id(), None);
    let got = tokio::time::timeout(Duration::from_secs(10), received)
        .await
        .unwrap()
        .unwrap();
    assert!(
        got == expected,
        "raw bytes differ ({} vs {})",
        got.len(),
        expected.len()
    );
    assert_eq!(
        sent.follow(Duration::from_secs(1)).await,
        Completion::Completed
    );
}

#[tokio::test]
async fn several_documents_become_one_printer_job_each_on_ippeveprinter() {
    let printer = TestPrinter::start(PrinterOptions::named("Push Multi")).await;
    let report = get_printer_attributes(&printer.uri(), None, &Timeouts::default())
        .await
        .unwrap();
    assert!(
        !report.multi_document,
        "ippeveprinter has no multi-document jobs"
    );
    let target = PushTarget {
        formats: report.formats.clone(),
        multi_document: report.multi_document,
        uris_supported: report.uris_supported.clone(),
        ..target(&printer.uri(), Protocol::Ipp)
    };
    let link = connect(&target, &pdf_job(), &Timeouts::default())
        .await
        .unwrap();
    let names = [
        "document-a4.pdf",
        "document-letter.pdf",
        "document-a4-gray.pdf",
    ];
    let mut docs = Docs::Files(names.iter().map(|n| fixture_path(n)).collect());
    let sent = link
        .send(&pdf_job(), &mut docs, &converter())
        .await
        .unwrap();
    assert_eq!(
        sent.printer_job_ids().len(),
        3,
        "{:?}",
        sent.printer_job_ids()
    );
    let ids = sent.printer_job_ids().to_vec();
    let completion = tokio::spawn(sent.follow(Duration::from_secs(60)));
    assert_eq!(completion.await.unwrap(), Completion::Completed);
    let jobs = printer.wait_for_jobs_done(3, Duration::from_secs(30)).await;
    assert!(jobs.iter().all(|j| j.state == "completed"), "{jobs:?}");
    for (id, name) in ids.iter().zip(names) {
        let file = printer.spooled_file(*id as u32).expect("spooled");
        assert!(file.bytes() == fixture(name), "job {id} is not {name}");
    }
}

#[tokio::test]
async fn printer_report_gives_formats_state_and_what_blocks_a_release() {
    let printer = TestPrinter::start(
        PrinterOptions::named("Push Report")
            .formats(&["application/pdf", "image/urf"])
            .color()
            .duplex(),
    )
    .await;
    let report = get_printer_attributes(&printer.uri(), None, &Timeouts::default())
        .await
        .unwrap();
    assert_eq!(report.state, PrinterState::Idle);
    assert!(report.accepting_jobs);
    assert!(
        report.formats.contains(&"application/pdf".to_string()),
        "{:?}",
        report.formats
    );
    assert!(report.formats.contains(&"image/urf".to_string()));
    assert!(!report.formats.contains(&"image/pwg-raster".to_string()));
    assert!(report.color_supported && report.duplex_supported);
    assert_eq!(report.make_model, "PrintPark Test Printer");
    assert!(
        report.operations.contains(&0x0002),
        "{:?}",
        report.operations
    );
    assert!(!report.media.is_empty());
    assert_eq!(report.cert_sha256, None);
    assert_eq!(report.blocking_problem(), None, "{report:?}");

    printer.empty_media().await;
    let report = get_printer_attributes(&printer.uri(), None, &Timeouts::default())
        .await
        .unwrap();
    assert!(
        report.reasons.iter().any(|r| r.starts_with("media-empty")),
        "{:?}",
        report.reasons
    );
    assert_eq!(
        report.blocking_problem().as_deref(),
        Some("The printer is out of paper (media-empty).")
    );

    let jammed = FakePrinter::start(FakeBehaviour::Answer(FakeStatus::stopped(&[
        "media-jam-error",
    ])));
    let report = get_printer_attributes(&jammed.uri(), None, &Timeouts::default())
        .await
        .unwrap();
    assert_eq!(report.state, PrinterState::Stopped);
    assert!(!report.accepting_jobs);
    assert_eq!(report.reasons, vec!["media-jam-error".to_string()]);
    assert_eq!(
        report.blocking_problem().as_deref(),
        Some("Paper jam (media-jam).")
    );
}

#[tokio::test]
async fn unreachable_printer_is_not_sent() {
    let uri = unreachable_uri();
    let err = connect(&target(&uri, Protocol::Auto), &pdf_job(), &quick())
        .await
        .unwrap_err();
    match err {
        PushError::NotSent {
            reason,
            retry_later: false,
        } => assert!(
            reason.starts_with("the printer could not be reached: "),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    let err = get_printer_attributes(&uri, None, &quick())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unreachable(_)), "{err:?}");
}

#[tokio::test]
async fn printer_hanging_up_mid_job_is_interrupted_with_the_amount_sent() {
    let fake = FakePrinter::start(FakeBehaviour::HangUpAfter(100_000));
    let link = connect(&target(&fake.uri(), Protocol::Ipp), &pdf_job(), &quick())
        .await
        .unwrap();
    let document: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let err = link
        .send(&pdf_job(), &mut Docs::Bytes(vec![document]), &converter())
        .await
        .unwrap_err();
    match &err {
        PushError::Interrupted { bytes_sent, reason } => {
            assert!(*bytes_sent > 0);
            assert!(
                reason.ends_with(&format!("after {}", human_bytes(*bytes_sent))),
                "{reason}"
            );
            assert!(
                reason.ends_with(" kB") || reason.ends_with(" MB"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.body_bytes() >= 100_000);
    // (`fake.operations()` cannot be checked here: in HangUpAfter mode the fake reads
    // the chunk-size line as the IPP header.)
}

#[tokio::test]
async fn printer_that_stops_reading_is_interrupted_by_the_time_out() {
    let fake = FakePrinter::start(FakeBehaviour::StallAfter(10_000));
    let timeouts = Timeouts {
        write: Duration::from_millis(500),
        response: Duration::from_secs(1),
        ..quick()
    };
    let link = connect(&target(&fake.uri(), Protocol::Ipp), &pdf_job(), &timeouts)
        .await
        .unwrap();
    // Larger than the socket buffers, so the writes themselves stall.
    let document = vec![7u8; 32 * 1024 * 1024];
    let started = std::time::Instant::now();
    let err = link
        .send(&pdf_job(), &mut Docs::Bytes(vec![document]), &converter())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    match &err {
        PushError::Interrupted { bytes_sent, reason } => {
            assert!(*bytes_sent > 0);
            assert!(
                reason.starts_with("the printer stopped reading for 500ms after "),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn printer_without_the_jobs_format_refuses_it() {
    // A format PrintPark cannot make (it converts into PDF, PostScript, PWG and Apple
    // raster, PCL and JPEG; a printer taking any of those gets a conversion).
    let printer = TestPrinter::start(
        PrinterOptions::named("Push Foreign Only").formats(&["application/x-foreign"]),
    )
    .await;
    let report = get_printer_attributes(&printer.uri(), None, &Timeouts::default())
        .await
        .unwrap();
    // Known formats: refused before anything is sent.
    let known = PushTarget {
        formats: report.formats.clone(),
        ..target(&printer.uri(), Protocol::Auto)
    };
    let err = connect(&known, &pdf_job(), &Timeouts::default())
        .await
        .unwrap_err();
    match &err {
        PushError::Refused { reason } => {
            assert!(
                reason.contains("none of the formats PrintPark can make"),
                "{reason}"
            );
            assert!(reason.contains("application/x-foreign"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Formats not known yet: the printer's own answer refuses it.
    let unknown = target(&printer.uri(), Protocol::Ipp);
    let link = connect(&unknown, &pdf_job(), &Timeouts::default())
        .await
        .unwrap();
    let err = link
        .send(
            &pdf_job(),
            &mut Docs::Files(vec![fixture_path("document-a4.pdf")]),
            &converter(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PushError::Refused {
            reason: "printer refused application/pdf".into()
        }
    );
    assert!(printer.spooled_files().is_empty());
}

#[tokio::test]
async fn stopped_printer_answers_try_later_and_nothing_is_sent() {
    let fake = FakePrinter::start(FakeBehaviour::Answer(FakeStatus::stopped(&["paused"])));
    let link = connect(&target(&fake.uri(), Protocol::Ipp), &pdf_job(), &quick())
        .await
        .unwrap();
    let err = link
        .send(
            &pdf_job(),
            &mut Docs::Bytes(vec![b"%PDF-1.4 tiny".to_vec()]),
            &converter(),
        )
        .await
        .unwrap_err();
    match err {
        PushError::NotSent {
            reason,
            retry_later: true,
        } => assert!(reason.contains("Not accepting jobs."), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn job_options_are_sent_as_ipp_attributes_the_printer_checks() {
    // ippeveprinter refuses values it does not support: a one-sided printer refuses
    // a two-sided job, which proves `sides` went out.
    let printer = TestPrinter::start(PrinterOptions::named("Push Options")).await;
    let mut job = pdf_job();
    job.sides = "two-sided-long-edge".into();
    let link = connect(
        &target(&printer.uri(), Protocol::Ipp),
        &job,
        &Timeouts::default(),
    )
    .await
    .unwrap();
    let err = link
        .send(
            &job,
            &mut Docs::Files(vec![fixture_path("document-a4.pdf")]),
            &converter(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PushError::Refused { reason } if reason.starts_with("printer refused the job: ")),
        "{err:?}"
    );
    // Supported options with page ranges and copies are taken.
    let duplex = TestPrinter::start(PrinterOptions::named("Push Duplex").duplex().color()).await;
    job.copies = 2;
    job.color_mode = "monochrome".into();
    job.page_ranges = Some("1-1,2-2".into());
    job.media = Some("iso_a4_210x297mm".into());
    let link = connect(
        &target(&duplex.uri(), Protocol::Ipp),
        &job,
        &Timeouts::default(),
    )
    .await
    .unwrap();
    let sent = link
        .send(
            &job,
            &mut Docs::Files(vec![fixture_path("document-a4.pdf")]),
            &converter(),
        )
        .await
        .unwrap();
    assert_eq!(
        sent.follow(Duration::from_secs(30)).await,
        Completion::Completed
    );
    // Black and white is made grey (issue 17): a PDF again, not the same bytes, with
    // both pages (the ranges 1-1,2-2 keep them all).
    let got = duplex.spooled_files()[0].bytes();
    assert!(got.starts_with(b"%PDF-") && got != fixture("document-a4.pdf"));
    let templates = duplex.job_templates().await;
    assert_eq!(templates[0].3, "monochrome", "{templates:?}");
}

#[tokio::test]
async fn follow_reaches_completed_or_failed_as_ippeveprinter_reports() {
    let printer = TestPrinter::start(
        PrinterOptions::named("Push Follow").job(JobBehaviour::slow(Duration::from_millis(800))),
    )
    .await;
    let link = connect(
        &target(&printer.uri(), Protocol::Ipp),
        &pdf_job(),
        &Timeouts::default(),
    )
    .await
    .unwrap();
    let sent = link
        .send(
            &pdf_job(),
            &mut Docs::Files(vec![fixture_path("document-a4.pdf")]),
            &converter(),
        )
        .await
        .unwrap();
    // Too short a limit: the job is still printing.
    let early = sent.clone().follow(Duration::from_millis(100)).await;
    assert!(
        matches!(&early, Completion::Unknown(why) if why.contains("processing") || why.contains("pending")),
        "{early:?}"
    );
    assert_eq!(
        sent.follow(Duration::from_secs(30)).await,
        Completion::Completed
    );

    printer.set_job_behaviour(&JobBehaviour::failing("Paper jam"));
    let link = connect(
        &target(&printer.uri(), Protocol::Ipp),
        &pdf_job(),
        &Timeouts::default(),
    )
    .await
    .unwrap();
    let sent = link
        .send(
            &pdf_job(),
            &mut Docs::Files(vec![fixture_path("document-a4.pdf")]),
            &converter(),
        )
        .await
        .unwrap();
    match sent.follow(Duration::from_secs(30)).await {
        Completion::Failed(why) => assert!(why.contains("aborted"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn auto_falls_back_to_plain_ipp_when_no_ipps_uri_answers() {
    let fake = FakePrinter::start(FakeBehaviour::Answer(FakeStatus::stopped(&[])));
    let dead_ipps = unreachable_uri().replace("ipp://", "ipps://");
    let target = PushTarget {
        uris_supported: vec![dead_ipps, fake.uri()],
        ..target(&fake.uri(), Protocol::Auto)
    };
    let link = connect(&target, &pdf_job(), &quick()).await.unwrap();
    assert_eq!(link.protocol(), Protocol::Ipp);
    assert_eq!(link.uri(), fake.uri());
    // Forced IPPS does not fall back.
    let forced = PushTarget {
        protocol: Protocol::Ipps,
        ..target
    };
    let err = connect(&forced, &pdf_job(), &quick()).await.unwrap_err();
    assert!(
        matches!(&err, PushError::NotSent { reason, retry_later: false } if reason.contains("TLS handshake")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_second_document_refused_after_the_first_was_taken_is_interrupted_not_retried() {
    // ippeveprinter takes Create-Job and one Send-Document, but no second document:
    // told (wrongly) that it has multi-document jobs, the first document may print.
    let printer = TestPrinter::start(PrinterOptions::named("Push Create-Job")).await;
    let target = PushTarget {
        multi_document: true,
        ..target(&printer.uri(), Protocol::Ipp)
    };
    let link = connect(&target, &pdf_job(), &Timeouts::default())
        .await
        .unwrap();
    let mut docs = Docs::Files(vec![
        fixture_path("document-a4.pdf"),
        fixture_path("document-letter.pdf"),
    ]);
    let err = link
        .send(&pdf_job(), &mut docs, &converter())
        .await
        .unwrap_err();
    match &err {
        PushError::Interrupted { bytes_sent, reason } => {
            assert!(*bytes_sent > fixture("document-a4.pdf").len() as u64);
            assert!(
                reason.starts_with("the printer took 1 of 2 documents, then: "),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let jobs = printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!(jobs.len(), 1);
    assert!(printer.spooled_files()[0].bytes() == fixture("document-a4.pdf"));
}
