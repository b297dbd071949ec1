//! Issue 17: IPP INFRA Fetch-Document converts. An output device (the scripted one of
//! `support::infra_device`, which asks for its local `ippeveprinter`'s
//! `document-format-supported`) fetches a PDF job in PWG raster or Apple raster; the
//! bytes it got are checked with tools that are not PrintPark's: cups-filters'
//! `rastertopdf` + poppler's `pdfinfo`/`pdftoppm` for PWG raster, a URF decoder written
//! here in Python from CUPS's raster-stream.c for Apple raster. Also: the formats a
//! device reported stand in for a request that names none (and Fetch-Job says the
//! format it will get), gzip applies to the converted stream, a mono release reaches the
//! device as grey pages, and a corrupt PDF fails the fetch and the release with the
//! reason while the job is held again.

use crate::support;

use std::io::Read as _;
use std::time::Duration;

use printpark::db::PrinterRow;
use printpark::identity::{ClientInfo, User};
use printpark::ipp::op;
use printpark::ipp::wire::{Attribute, Group, Value, group};
use printpark::release::{JobChoice, NewOutputDevice, ReleaseVia};
use support::infra_device::{DeviceConfig, OutputDevice, Phase, infra_request, ipp_request};
use support::printer::{PrinterOptions, TestPrinter};
use support::{Backend, TestServer};

mod read;
use read::{is_a4, read_pwg_with_cups, read_urf_with_python};

const ANN_PASSWORD: &str = "ann's long password";

struct World {
    server: TestServer,
    admin: User,
    ann: User,
    home: tempfile::TempDir,
}

async fn world() -> World {
    let server = TestServer::start(Backend::Sqlite).await;
    let admin = support::create_admin(&server.services.identity).await;
    let ann = support::create_user(&server, "ann", ANN_PASSWORD).await;
    World {
        server,
        admin,
        ann,
        home: tempfile::tempdir().unwrap(),
    }
}

impl World {
    async fn pulled_printer(&self, name: &str) -> PrinterRow {
        support::sign_in::pulled_printer(&self.server, &self.admin, name).await
    }

    async fn enrol(&self, printer: &PrinterRow) -> NewOutputDevice {
        self.server
            .services
            .release
            .infra()
            .add_device(&self.admin, printer.id, "proxy", &ClientInfo::default())
            .await
            .unwrap()
    }

    /// A pulled printer and its running output device printing on a local
    /// `ippeveprinter` that takes only `formats`.
    async fn device_taking(
        &self,
        name: &str,
        formats: &[&str],
    ) -> (PrinterRow, OutputDevice, TestPrinter) {
        let local = TestPrinter::start(PrinterOptions::named(name).formats(formats)).await;
        let printer = self.pulled_printer(name).await;
        let enrolled = self.enrol(&printer).await;
        let device = OutputDevice::start(DeviceConfig::new(
            &self.server.base,
            &enrolled.login,
            &enrolled.secret,
            &local.uri(),
        ))
        .await;
        assert_eq!(device.phase(), Phase::Running, "{:?}", device.errors());
        (printer, device, local)
    }

    /// Ann prints `bytes` with ipptool over IPPS; returns the held job's id.
    async fn print(&self, bytes: &[u8]) -> i64 {
        let file = self.home.path().join("document.pdf");
        std::fs::write(&file, bytes).unwrap();
        let uri = format!(
            "{}/ipp/print",
            self.server
                .base
                .replace("https://", "ipps://ann:ann%27s%20long%20password@")
        );
        let output = support::printer::ipptool(
            &["-tv", "-f", file.to_str().unwrap(), &uri, "print-job.test"],
            self.home.path(),
        )
        .await;
        assert!(
            output.status.success(),
            "ipptool print-job failed:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        let jobs = self
            .server
            .services
            .jobs
            .held_jobs_of(&self.ann)
            .await
            .unwrap();
        jobs.first().expect("the printed job is held").id
    }

    async fn release(&self, printer: &PrinterRow, job_id: i64, mono: bool) -> i64 {
        self.server
            .services
            .release
            .release(
                &self.ann,
                &printer.guid,
                &[JobChoice {
                    job_id,
                    mono,
                    ..Default::default()
                }],
                ReleaseVia::Station,
                &ClientInfo::default(),
            )
            .await
            .unwrap()[0]
    }

    async fn release_row(&self, id: i64) -> printpark::db::ReleaseRow {
        self.server.services.db.release_by_id(id).await.unwrap()
    }

    async fn wait_release(&self, id: i64, state: &str) -> printpark::db::ReleaseRow {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let row = self.release_row(id).await;
            if row.state.as_str() == state {
                return row;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "release {id} is {}, not {state}: {}",
                row.state,
                row.reason
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Prints the two-page A4 fixture (a red rectangle on page 1), releases it and
    /// waits for the device to print it; returns what the device fetched.
    async fn printed_by(
        &self,
        printer: &PrinterRow,
        device: &OutputDevice,
        mono: bool,
    ) -> support::infra_device::FetchedDocument {
        let pdf = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();
        let job = self.print(&pdf).await;
        let release = self.release(printer, job, mono).await;
        assert!(
            device
                .wait_for_printed(release as i32, Duration::from_secs(120))
                .await,
            "{}",
            support::infra_device::describe(&device.log())
        );
        self.wait_release(release, "printed").await;
        let documents = device.documents(release as i32);
        assert_eq!(documents.len(), 1, "one document fetched");
        documents.into_iter().next().unwrap()
    }
}

// --- the tests -------------------------------------------------------------------------

#[tokio::test]
async fn a_device_taking_only_pwg_raster_gets_the_pdf_as_pwg_raster_that_cups_filters_reads() {
    let w = world().await;
    let (printer, device, local) = w.device_taking("infra-pwg", &["image/pwg-raster"]).await;
    let fetched = w.printed_by(&printer, &device, false).await;
    assert_eq!(fetched.format.as_deref(), Some("image/pwg-raster"));
    assert!(fetched.bytes.starts_with(b"RaS2"), "PWG raster sync word");
    let read = read_pwg_with_cups(&fetched.bytes, w.home.path());
    assert_eq!(read.pages, 2, "both pages");
    assert!(
        (read.size.0 - 595.3).abs() < 2.0 && (read.size.1 - 841.9).abs() < 2.0,
        "A4: {:?}",
        read.size
    );
    assert!(read.page1.red() > 20, "page 1's red rectangle is red");
    assert!(
        read.image_colours.iter().all(|c| c != "gray"),
        "colour pages: {:?}",
        read.image_colours
    );
    // The local printer printed what the device got, in its format.
    local.wait_for_jobs_done(1, Duration::from_secs(30)).await;
    assert_eq!(local.spooled_files()[0].bytes(), fetched.bytes);
    device.stop().await;
}

#[tokio::test]
async fn a_mono_release_reaches_a_pwg_raster_device_as_grey_pages() {
    let w = world().await;
    let (printer, device, _local) = w
        .device_taking("infra-pwg-mono", &["image/pwg-raster"])
        .await;
    let fetched = w.printed_by(&printer, &device, true).await;
    assert_eq!(fetched.format.as_deref(), Some("image/pwg-raster"));
    let read = read_pwg_with_cups(&fetched.bytes, w.home.path());
    assert_eq!(read.pages, 2);
    assert_eq!(read.page1.red(), 0, "no red left");
    // rastertopdf made grey images of the raster's pages (pdftoppm's pixels of them are
    // tinted by the grey ICC profile rastertopdf embeds, so the colour space is read).
    assert_eq!(read.image_colours, vec!["gray", "gray"]);
    // The rectangle is still there, as grey: page 1 is not blank.
    assert!(
        read.page1.pixels.iter().any(|[r, _, _]| *r < 200),
        "page 1 has its marks"
    );
    device.stop().await;
}

#[tokio::test]
async fn a_device_taking_only_apple_raster_gets_urf_pages_of_the_right_size_and_colour() {
    let w = world().await;
    let (printer, device, _local) = w.device_taking("infra-urf", &["image/urf"]).await;
    let fetched = w.printed_by(&printer, &device, false).await;
    assert_eq!(fetched.format.as_deref(), Some("image/urf"));
    let urf = read_urf_with_python(&fetched.bytes, w.home.path());
    // The header's page count: 2, or 0 ("unknown") from a writer that streams pages
    // before it knows how many there are (Ghostscript's appleraster does).
    assert!(urf["declared"] == 2 || urf["declared"] == 0, "{urf}");
    let pages = urf["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2, "{urf}");
    for page in pages {
        let (width, height, dpi) = (
            page["width"].as_u64().unwrap(),
            page["height"].as_u64().unwrap(),
            page["dpi"].as_u64().unwrap(),
        );
        assert!(dpi >= 150, "{page}");
        assert!(is_a4(width, height, dpi), "A4 at {dpi} dpi: {page}");
    }
    assert_eq!(pages[0]["cs"], 1, "sRGB: {urf}");
    assert_eq!(pages[0]["bpp"], 24, "{urf}");
    assert_eq!(pages[0]["coloured"], true, "page 1 has colour: {urf}");
    device.stop().await;
}

/// Sends one request of the output device `enrolled` to its printer's INFRA URI.
async fn send(
    w: &World,
    printer: &PrinterRow,
    enrolled: &NewOutputDevice,
    operation: u16,
    attrs: Vec<(&'static str, Value)>,
    printer_group: Option<Group>,
) -> (Option<printpark::ipp::wire::Message>, Vec<u8>) {
    let path = format!("/ipp/infra/{}", printer.guid);
    let uri = format!("{}{path}", w.server.base.replace("https://", "ipps://"));
    let mut request = infra_request(operation, &uri, &enrolled.login, None);
    for (name, value) in attrs {
        request.groups[0].push(Attribute::new(name, value));
    }
    if let Some(g) = printer_group {
        request.groups.push(g);
    }
    let (_, answer, rest) = ipp_request(
        &support::insecure_client(),
        &format!("{}{path}", w.server.base),
        Some(&enrolled.login),
        &enrolled.secret,
        &request,
    )
    .await;
    (answer, rest)
}

#[tokio::test]
async fn the_formats_a_device_reported_are_used_when_it_names_none_and_gzip_wraps_the_conversion() {
    let w = world().await;
    let printer = w.pulled_printer("infra-reported").await;
    let enrolled = w.enrol(&printer).await;
    // The device says its printer takes PWG raster (and detects formats itself).
    let mut attrs = Group::new(group::PRINTER);
    attrs.push(Attribute::many(
        "document-format-supported",
        vec![
            Value::mime("application/octet-stream"),
            Value::mime("image/pwg-raster"),
        ],
    ));
    attrs.push(Attribute::new("printer-state", Value::Enum(3)));
    let (answer, _) = send(
        &w,
        &printer,
        &enrolled,
        op::UPDATE_OUTPUT_DEVICE_ATTRIBUTES,
        vec![],
        Some(attrs),
    )
    .await;
    assert_eq!(answer.unwrap().code, 0);

    let pdf = std::fs::read(support::fixture_path("document-a4.pdf")).unwrap();
    let job = w.print(&pdf).await;
    let release = w.release(&printer, job, false).await;
    let id = ("job-id", Value::Integer(release as i32));
    let (answer, _) = send(
        &w,
        &printer,
        &enrolled,
        op::FETCH_JOB,
        vec![id.clone()],
        None,
    )
    .await;
    let answer = answer.unwrap();
    assert_eq!(answer.code, 0);
    let job_group = answer.group(group::JOB).unwrap();
    assert_eq!(
        strings(job_group, "document-format"),
        vec!["image/pwg-raster"],
        "Fetch-Job says what the device will get"
    );
    assert_eq!(
        strings(job_group, "document-format-supplied"),
        vec!["application/pdf"]
    );
    let (answer, rest) = send(
        &w,
        &printer,
        &enrolled,
        op::FETCH_DOCUMENT,
        vec![
            id.clone(),
            ("document-number", Value::Integer(1)),
            ("compression-accepted", Value::keyword("gzip")),
        ],
        None,
    )
    .await;
    let answer = answer.unwrap();
    assert_eq!(
        answer.code,
        0,
        "{}",
        printpark::ipp::client::status_message(&answer)
    );
    assert_eq!(answer.operation_str("compression"), Some("gzip"));
    assert_eq!(
        answer.operation_str("document-format"),
        Some("image/pwg-raster")
    );
    let document = answer.group(group_tag_document()).unwrap();
    assert_eq!(
        strings(document, "document-format"),
        vec!["image/pwg-raster"]
    );
    let mut raster = Vec::new();
    flate2::read::GzDecoder::new(&rest[..])
        .read_to_end(&mut raster)
        .unwrap();
    assert!(raster.starts_with(b"RaS2"));
    assert_eq!(read_pwg_with_cups(&raster, w.home.path()).pages, 2);
    assert!(w.release_row(release).await.transmitting);
}

fn strings<'a>(g: &'a Group, name: &str) -> Vec<&'a str> {
    g.get(name).map(|a| a.strings()).unwrap_or_default()
}

fn group_tag_document() -> u8 {
    support::infra_device::group_tag::DOCUMENT
}

#[tokio::test]
async fn a_corrupt_pdf_fails_the_fetch_with_nothing_sent_and_the_job_is_held_with_the_reason() {
    let w = world().await;
    let printer = w.pulled_printer("infra-corrupt").await;
    let enrolled = w.enrol(&printer).await;
    // A PDF header, a catalogue whose page tree is missing, and nothing else a
    // renderer can read: parked (the analysis cannot count its pages), never rendered.
    let mut corrupt = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n".to_vec();
    corrupt.extend(std::iter::repeat_n(b'#', 4000));
    corrupt.extend_from_slice(b"\nstartxref\n999999\n%%EOF\n");
    let job = w.print(&corrupt).await;
    let release = w.release(&printer, job, false).await;
    let id = ("job-id", Value::Integer(release as i32));
    let (answer, _) = send(
        &w,
        &printer,
        &enrolled,
        op::FETCH_JOB,
        vec![id.clone()],
        None,
    )
    .await;
    assert_eq!(answer.unwrap().code, 0);
    let (answer, rest) = send(
        &w,
        &printer,
        &enrolled,
        op::FETCH_DOCUMENT,
        vec![
            id,
            ("document-number", Value::Integer(1)),
            ("document-format-accepted", Value::mime("image/pwg-raster")),
        ],
        None,
    )
    .await;
    let answer = answer.unwrap();
    assert_eq!(answer.code, 0x0411, "client-error-document-format-error");
    assert!(rest.is_empty(), "nothing was sent");
    let said = printpark::ipp::client::status_message(&answer);
    assert!(said.contains("could not be"), "{said}");
    let row = w.wait_release(release, "failed").await;
    assert!(!row.transmitting);
    assert!(
        row.reason
            .contains("could not be prepared for output device")
            && row.reason.contains("held again"),
        "{}",
        row.reason
    );
    let held = w.server.services.jobs.job_of(&w.ann, job).await.unwrap();
    assert_eq!(held.state, printpark::jobs::JobState::Held);
}
