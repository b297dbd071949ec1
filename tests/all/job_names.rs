//! Long job names reach printers shortened to what IPP allows (issue 20, item 5): a
//! 250-character file name (multi-byte UTF-8: 750 octets) made the printer refuse the
//! job-name (name(MAX) = 255 octets) and the release fail again and again. The push
//! sends it cut at a character boundary with "…", and ippeveprinter (a real IPP
//! Everywhere printer) takes the job under that name.

use crate::support;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use printpark::ipp::client::{Timeouts, get_printer_attributes};
use printpark::release::push::{DocumentSource, Protocol, PushJob, PushTarget, connect};
use support::printer::{PrinterOptions, TestPrinter};
use tokio::io::AsyncRead;

struct OnePdf(Vec<u8>);

impl DocumentSource for OnePdf {
    fn count(&self) -> u32 {
        1
    }

    fn open(
        &mut self,
        _number: u32,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Box<dyn AsyncRead + Send + Unpin>>> + Send + '_>>
    {
        let bytes = self.0.clone();
        Box::pin(async move {
            Ok(Box::new(std::io::Cursor::new(bytes)) as Box<dyn AsyncRead + Send + Unpin>)
        })
    }
}

/// 250 characters, most of them three octets: "Jahresbericht " and "€" repeated.
fn long_name() -> String {
    let mut name = "Jahresbericht ".to_string();
    while name.chars().count() < 246 {
        name.push('€');
    }
    name.push_str(".pdf");
    assert_eq!(name.chars().count(), 250);
    name
}

#[tokio::test]
async fn a_250_character_multibyte_name_is_shortened_and_the_printer_takes_the_job() {
    let printer = TestPrinter::start(PrinterOptions::named("Long Names")).await;
    let report = get_printer_attributes(&printer.uri(), None, &Timeouts::default())
        .await
        .unwrap();
    let target = PushTarget {
        uri: printer.uri(),
        protocol: Protocol::Ipp,
        formats: report.formats.clone(),
        ..PushTarget::default()
    };
    let name = long_name();
    assert!(name.len() > 700, "{} octets", name.len());
    let job = PushJob {
        name: name.clone(),
        user_name: "alice".into(),
        format: "application/pdf".into(),
        copies: 1,
        sides: "one-sided".into(),
        color_mode: "auto".into(),
        page_ranges: None,
        media: None,
    };
    let link = connect(&target, &job, &Timeouts::default()).await.unwrap();
    let pdf = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();
    let converter = printpark::convert::Converter::new(Some(support::binary()));
    link.send(&job, &mut OnePdf(pdf), &converter)
        .await
        .expect("the printer took the job");
    let jobs = printer.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, "completed");
    let shown = &jobs[0].name;
    assert!(
        shown.len() <= 255,
        "{} octets reached the printer",
        shown.len()
    );
    assert!(shown.ends_with('…'), "{shown}");
    let kept = shown.trim_end_matches('…');
    assert!(
        name.starts_with(kept),
        "{shown} is not the start of the name"
    );
    // As much as fits: another character would not.
    assert!(
        kept.len() + '€'.len_utf8() + '…'.len_utf8() > 255,
        "{shown}"
    );
}
