//! Conversion at push delivery (issue 17), end to end: jobs parked through the real
//! intake (a multi-page colour PDF, a PostScript file, a JPEG and a PNG, all made by
//! Ghostscript at test time) are released to printers that do not take them —
//! ippeveprinter accepting only PWG raster, only Apple raster, only JPEG, or PDF; a raw
//! 9100 listener set to PCL XL, PCL 5 or PostScript — and what arrived is checked with
//! tools that are not PrintPark's: cups-filters' `rastertopdf`, `pdfinfo`, Ghostscript's
//! `inkcov`, `mutool`, a Python decoder of the Apple raster and JPEG headers, and for
//! PCL structure checks beside the project's own PCL analyser.
//!
//! Also: black and white at release gives grey pages, page ranges give only those
//! pages, and a corrupt PDF or a decompression bomb fails the release cleanly (the job
//! held again, the converter's reason on the release, nothing at the printer).

pub(crate) mod check;

use crate::support;

use std::path::Path;
use std::time::Duration;

use printpark::db::{PrinterRow, ReleaseRow};
use printpark::identity::{ClientInfo, User};
use printpark::jobs::{ColorMode, Compression, HeldJob, JobState, Sides, Submission};
use printpark::release::{JobChoice, PrinterForm, ReleaseVia};
use support::printer::{PrinterOptions, TestPrinter};
use support::raw_printer::RawPrinter;
use support::{Backend, TestServer};

use check::{A4, Arrived};

const PDF: &str = "application/pdf";
const PS: &str = "application/postscript";
const JPEG: &str = "image/jpeg";
const PNG: &str = "image/png";

struct World {
    server: TestServer,
    admin: User,
    ann: User,
    docs: Docs,
}

/// The documents people print, made by Ghostscript for each test.
struct Docs {
    /// Three A4 pages, each with a red, green or blue square.
    pdf: Vec<u8>,
    /// Two A4 pages in colour.
    ps: Vec<u8>,
    jpeg: Vec<u8>,
    png: Vec<u8>,
}

/// Three colour A4 pages (or two with `pages`), as PostScript.
fn colour_pages(pages: usize) -> String {
    let mut ps = String::from(
        "%!PS-Adobe-3.0\n<< /PageSize [595 842] >> setpagedevice\n/Helvetica findfont 36 scalefont setfont\n",
    );
    for (n, colour) in ["1 0 0", "0 0.6 0", "0 0 1"].iter().take(pages).enumerate() {
        ps.push_str(&format!(
            "{colour} setrgbcolor 60 60 300 300 rectfill 0 0 0 setrgbcolor 72 700 moveto (Page {}) show showpage\n",
            n + 1
        ));
    }
    ps
}

fn gs(dir: &Path, device: &str, extra: &[&str], input: &str, output: &str) -> Vec<u8> {
    let source = dir.join(format!("{output}.ps"));
    std::fs::write(&source, input).unwrap();
    let out = dir.join(output);
    let status = std::process::Command::new("gs")
        .args(["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER"])
        .arg(format!("-sDEVICE={device}"))
        .args(extra)
        .arg(format!("-sOutputFile={}", out.display()))
        .arg(&source)
        .status()
        .expect("Ghostscript is installed");
    assert!(status.success(), "gs -sDEVICE={device} failed");
    std::fs::read(out).unwrap()
}

fn make_docs() -> Docs {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    Docs {
        pdf: gs(d, "pdfwrite", &[], &colour_pages(3), "doc.pdf"),
        ps: colour_pages(2).into_bytes(),
        jpeg: gs(d, "jpeg", &["-r40"], &colour_pages(1), "photo.jpg"),
        png: gs(d, "png16m", &["-r40"], &colour_pages(1), "shot.png"),
    }
}

async fn world() -> World {
    let server = TestServer::start(Backend::Sqlite).await;
    let admin = support::create_admin(&server.services.identity).await;
    let ann = support::create_user(&server, "ann", "ann's long password").await;
    World {
        server,
        admin,
        ann,
        docs: make_docs(),
    }
}

impl World {
    async fn printer(&self, name: &str, uri: &str) -> PrinterRow {
        self.server
            .services
            .printers
            .add(
                &self.admin,
                &PrinterForm {
                    name: name.into(),
                    uri: uri.into(),
                    ..Default::default()
                },
                &ClientInfo::default(),
            )
            .await
            .unwrap()
    }

    /// A raw printer set to `language` (the admin's setting, stored as the form does).
    async fn raw_printer(&self, name: &str, raw: &RawPrinter, language: &str) -> PrinterRow {
        let row = self.printer(name, &raw.uri()).await;
        let statement = "UPDATE printers SET language = $1 WHERE id = $2";
        match &self.server.services.db {
            printpark::db::Db::Sqlite(pool) => sqlx::query(statement)
                .bind(language)
                .bind(row.id)
                .execute(pool)
                .await
                .map(|_| ()),
            printpark::db::Db::Postgres(pool) => sqlx::query(statement)
                .bind(language)
                .bind(row.id)
                .execute(pool)
                .await
                .map(|_| ()),
        }
        .unwrap();
        row
    }

    /// Parks a job through the intake, as the portal or IPP would.
    async fn park(&self, name: &str, format: &str, bytes: &[u8], ranges: Option<&str>) -> HeldJob {
        self.server
            .services
            .jobs
            .park(
                &self.ann,
                &Submission {
                    name,
                    format,
                    copies: 1,
                    sides: Sides::OneSided,
                    source: "portal",
                    compression: Compression::None,
                    color_mode: ColorMode::Auto,
                    accept: None,
                    page_ranges: ranges.map(str::to_string),
                },
                &mut &bytes[..],
                &ClientInfo::default(),
            )
            .await
            .unwrap()
    }

    /// Releases one job (black and white when `mono`) and waits for its end.
    async fn release(&self, printer: &PrinterRow, job: &HeldJob, mono: bool) -> ReleaseRow {
        let ids = self
            .server
            .services
            .release
            .release(
                &self.ann,
                &printer.guid,
                &[JobChoice {
                    job_id: job.id,
                    mono,
                    ..Default::default()
                }],
                ReleaseVia::Station,
                &ClientInfo::default(),
            )
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let rows = self
                .server
                .services
                .db
                .releases_of_user(self.ann.id, 0)
                .await
                .unwrap();
            if let Some(row) = rows.iter().find(|r| r.id == ids[0])
                && matches!(row.state.as_str(), "printed" | "failed" | "needs-attention")
            {
                return row.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the release did not end: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn job_state(&self, job: &HeldJob) -> JobState {
        self.server
            .services
            .jobs
            .job_of(&self.ann, job.id)
            .await
            .unwrap()
            .state
    }

    /// Parks `bytes`, releases them and asserts the release printed.
    async fn print(
        &self,
        printer: &PrinterRow,
        name: &str,
        format: &str,
        bytes: &[u8],
        ranges: Option<&str>,
        mono: bool,
    ) {
        let job = self.park(name, format, bytes, ranges).await;
        let release = self.release(printer, &job, mono).await;
        assert_eq!(
            release.state.as_str(),
            "printed",
            "{name} to {}: {}",
            printer.name,
            release.reason
        );
    }
}

/// An ippeveprinter in colour taking only `formats`.
async fn ipp_printer(name: &str, formats: &[&str]) -> TestPrinter {
    TestPrinter::start(PrinterOptions::named(name).formats(formats).color()).await
}

/// The documents of the printer's jobs `from..` (job ids), in order, once `count`
/// more jobs are done.
async fn documents_since(printer: &TestPrinter, before: usize, count: usize) -> Vec<Vec<u8>> {
    printer
        .wait_for_jobs_done(before + count, Duration::from_secs(60))
        .await;
    let files = printer.spooled_files();
    assert_eq!(files.len(), before + count, "{files:?}");
    files[before..].iter().map(|f| f.bytes()).collect()
}

fn expect(arrived: &Arrived, pages: u32, colour: bool, a4: bool, what: &str) {
    assert_eq!(arrived.pages, pages, "{what}: pages ({arrived:?})");
    assert_eq!(arrived.colour, colour, "{what}: colour ({arrived:?})");
    if a4 {
        let (w, h) = arrived
            .size_pt
            .unwrap_or_else(|| panic!("{what}: no page size"));
        assert!(
            (w - A4.0).abs() < 3.0 && (h - A4.1).abs() < 3.0,
            "{what}: page size {w} x {h} pt is not A4 ({arrived:?})"
        );
    }
}

#[tokio::test]
async fn ipp_printers_without_pdf_get_pwg_raster_apple_raster_or_one_jpeg_per_page() {
    let w = world().await;
    let pwg = ipp_printer("Only PWG", &["image/pwg-raster"]).await;
    let urf = ipp_printer("Only URF", &["image/urf"]).await;
    let jpeg = ipp_printer("Only JPEG", &["image/jpeg"]).await;
    let pwg_row = w.printer("PWG", &pwg.uri()).await;
    let urf_row = w.printer("URF", &urf.uri()).await;
    let jpeg_row = w.printer("JPEG", &jpeg.uri()).await;

    // The multi-page colour PDF to each.
    w.print(&pwg_row, "doc.pdf", PDF, &w.docs.pdf, None, false)
        .await;
    let got = documents_since(&pwg, 0, 1).await;
    expect(&check::pwg(&got[0]), 3, true, true, "PDF → PWG raster");
    w.print(&urf_row, "doc.pdf", PDF, &w.docs.pdf, None, false)
        .await;
    let got = documents_since(&urf, 0, 1).await;
    expect(&check::urf(&got[0]), 3, true, true, "PDF → Apple raster");
    w.print(&jpeg_row, "doc.pdf", PDF, &w.docs.pdf, None, false)
        .await;
    let got = documents_since(&jpeg, 0, 3).await;
    for (n, page) in got.iter().enumerate() {
        let arrived = check::jpeg(page);
        expect(
            &arrived,
            1,
            true,
            false,
            &format!("PDF page {} → JPEG", n + 1),
        );
        check::portrait_a4_ratio(&arrived, "PDF → JPEG");
    }

    // The other inputs, each at least once.
    w.print(&pwg_row, "two.ps", PS, &w.docs.ps, None, false)
        .await;
    let got = documents_since(&pwg, 1, 1).await;
    expect(
        &check::pwg(&got[0]),
        2,
        true,
        true,
        "PostScript → PWG raster",
    );
    w.print(&urf_row, "photo.jpg", JPEG, &w.docs.jpeg, None, false)
        .await;
    let got = documents_since(&urf, 1, 1).await;
    expect(&check::urf(&got[0]), 1, true, false, "JPEG → Apple raster");
    w.print(&jpeg_row, "shot.png", PNG, &w.docs.png, None, false)
        .await;
    let got = documents_since(&jpeg, 3, 1).await;
    expect(&check::jpeg(&got[0]), 1, true, false, "PNG → JPEG");
    w.server.stop().await;
}

#[tokio::test]
async fn a_pdf_printer_gets_the_pdf_as_it_is_and_grey_pages_in_black_and_white() {
    let w = world().await;
    let printer = ipp_printer("PDF", &["application/pdf", "image/pwg-raster"]).await;
    let row = w.printer("PDF", &printer.uri()).await;
    w.print(&row, "doc.pdf", PDF, &w.docs.pdf, None, false)
        .await;
    let got = documents_since(&printer, 0, 1).await;
    assert!(
        got[0] == w.docs.pdf,
        "a PDF the printer takes goes byte for byte"
    );
    expect(&check::pdf(&got[0]), 3, true, true, "PDF as it is");
    // Black and white at release: grey pages, not only an IPP attribute.
    w.print(&row, "doc.pdf", PDF, &w.docs.pdf, None, true).await;
    let got = documents_since(&printer, 1, 1).await;
    expect(
        &check::pdf(&got[0]),
        3,
        false,
        true,
        "PDF in black and white",
    );
    // A PostScript file becomes PDF.
    w.print(&row, "two.ps", PS, &w.docs.ps, None, false).await;
    let got = documents_since(&printer, 2, 1).await;
    assert!(got[0].starts_with(b"%PDF-"), "PostScript arrives as PDF");
    expect(&check::pdf(&got[0]), 2, true, true, "PostScript → PDF");
    w.server.stop().await;
}

#[tokio::test]
async fn raw_printers_get_pcl_xl_pcl_5_or_postscript() {
    let w = world().await;
    let xl = RawPrinter::start().await;
    let pcl5 = RawPrinter::start().await;
    let ps = RawPrinter::start().await;
    let xl_row = w.raw_printer("PCL XL", &xl, "pclxl").await;
    let pcl5_row = w.raw_printer("PCL 5", &pcl5, "pcl5").await;
    let ps_row = w.raw_printer("PostScript", &ps, "postscript").await;

    w.print(&xl_row, "doc.pdf", PDF, &w.docs.pdf, None, false)
        .await;
    let got = xl.wait_for_jobs(1, Duration::from_secs(30)).await;
    expect(&check::pclxl(&got[0]), 3, true, true, "PDF → PCL XL");
    w.print(&pcl5_row, "doc.pdf", PDF, &w.docs.pdf, None, false)
        .await;
    let got = pcl5.wait_for_jobs(1, Duration::from_secs(30)).await;
    expect(&check::pcl5(&got[0]), 3, true, true, "PDF → PCL 5");
    w.print(&ps_row, "doc.pdf", PDF, &w.docs.pdf, None, false)
        .await;
    let got = ps.wait_for_jobs(1, Duration::from_secs(30)).await;
    expect(
        &check::postscript(&got[0]),
        3,
        true,
        true,
        "PDF → PostScript",
    );

    w.print(&xl_row, "two.ps", PS, &w.docs.ps, None, false)
        .await;
    let got = xl.wait_for_jobs(2, Duration::from_secs(30)).await;
    expect(&check::pclxl(&got[1]), 2, true, true, "PostScript → PCL XL");
    w.print(&ps_row, "photo.jpg", JPEG, &w.docs.jpeg, None, false)
        .await;
    let got = ps.wait_for_jobs(2, Duration::from_secs(30)).await;
    expect(
        &check::postscript(&got[1]),
        1,
        true,
        false,
        "JPEG → PostScript",
    );
    w.print(&pcl5_row, "shot.png", PNG, &w.docs.png, None, false)
        .await;
    let got = pcl5.wait_for_jobs(2, Duration::from_secs(30)).await;
    expect(&check::pcl5(&got[1]), 1, true, false, "PNG → PCL 5");
    // A PostScript job to a PostScript printer goes as it is.
    w.print(&ps_row, "two.ps", PS, &w.docs.ps, None, false)
        .await;
    let got = ps.wait_for_jobs(3, Duration::from_secs(30)).await;
    assert!(
        got[2] == w.docs.ps,
        "PostScript to a PostScript printer is not touched"
    );
    w.server.stop().await;
}

#[tokio::test]
async fn black_and_white_gives_grey_pages_and_page_ranges_only_those_pages() {
    let w = world().await;
    let pwg = ipp_printer("Only PWG", &["image/pwg-raster"]).await;
    let pwg_row = w.printer("PWG", &pwg.uri()).await;
    let xl = RawPrinter::start().await;
    let xl_row = w.raw_printer("PCL XL", &xl, "pclxl").await;

    w.print(&pwg_row, "doc.pdf", PDF, &w.docs.pdf, None, true)
        .await;
    let got = documents_since(&pwg, 0, 1).await;
    expect(
        &check::pwg(&got[0]),
        3,
        false,
        true,
        "PDF → grey PWG raster",
    );
    let templates = pwg.job_templates().await;
    assert_eq!(
        templates[0].3, "monochrome",
        "print-color-mode stays: {templates:?}"
    );
    w.print(&xl_row, "doc.pdf", PDF, &w.docs.pdf, None, true)
        .await;
    let got = xl.wait_for_jobs(1, Duration::from_secs(30)).await;
    expect(&check::pclxl(&got[0]), 3, false, true, "PDF → grey PCL XL");

    // Pages 2 and 3 only: made by the conversion, and not asked of the printer again
    // (it would cut the two pages it got down to one).
    w.print(&pwg_row, "doc.pdf", PDF, &w.docs.pdf, Some("2-3"), false)
        .await;
    let got = documents_since(&pwg, 1, 1).await;
    let arrived = check::pwg(&got[0]);
    expect(&arrived, 2, true, true, "pages 2-3 → PWG raster");
    assert_eq!(
        arrived.dominant,
        vec!['g', 'b'],
        "pages 2 (green) and 3 (blue): {arrived:?}"
    );
    w.print(&xl_row, "doc.pdf", PDF, &w.docs.pdf, Some("3"), false)
        .await;
    let got = xl.wait_for_jobs(2, Duration::from_secs(30)).await;
    expect(&check::pclxl(&got[1]), 1, true, true, "page 3 → PCL XL");
    w.server.stop().await;
}

/// PostScript input with page ranges: the pages are cut by the conversion (the
/// PostScript printer is given the job's own language, so only the range asks for it).
#[tokio::test]
async fn page_ranges_of_a_postscript_job_to_a_postscript_printer_give_only_those_pages() {
    let w = world().await;
    let ps = RawPrinter::start().await;
    let ps_row = w.raw_printer("PostScript", &ps, "postscript").await;
    w.print(&ps_row, "two.ps", PS, &w.docs.ps, Some("2"), false)
        .await;
    let got = ps.wait_for_jobs(1, Duration::from_secs(30)).await;
    let arrived = check::postscript(&got[0]);
    expect(&arrived, 1, true, true, "page 2 of PostScript → PostScript");
    assert_eq!(arrived.dominant, vec!['g'], "{arrived:?}");
    w.server.stop().await;
}

/// A PDF that is not one: a header and then nothing a renderer can read.
fn corrupt_pdf() -> Vec<u8> {
    let mut doc = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n".to_vec();
    doc.extend(std::iter::repeat_n(b'#', 4000));
    doc.extend_from_slice(b"\nstartxref\n999999\n%%EOF\n");
    doc
}

/// A decompression bomb, made by Python's zlib: a PNG of 16384 × 16384 colour pixels
/// (800 MB) in under 1 MB; the deflate stream is valid, checksum included (the same
/// full-flushed block repeated).
///
/// (A PDF whose content stream inflates from 2 MB to 2 GiB is no failure: Ghostscript
/// reads it in flat memory, in about 25 s, and renders a blank page; the worker's time
/// limit bounds it, so it is not a test that can fail cleanly and fast.)
const BOMBS: &str = r#"
import sys, zlib, struct
def bomb(first, fill, n):
    c = zlib.compressobj(9)
    head = c.compress(first) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(fill) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == c.compress(fill) + c.flush(zlib.Z_FULL_FLUSH)
    adler = zlib.adler32(first)
    for _ in range(n):
        adler = zlib.adler32(fill, adler)
    return head + block * n + b'\x03\x00' + struct.pack('>I', adler)
side = 16384
row = b'\x00' * (1 + 3 * side)
idat = bomb(b'', row * 64, side // 64)
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 8, 2, 0, 0, 0))
png += chunk(b'IDAT', idat) + chunk(b'IEND', b'')
open(sys.argv[1], 'wb').write(png)
"#;

fn png_bomb() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("bomb.png");
    let status = std::process::Command::new("python3")
        .args(["-c", BOMBS])
        .arg(&png)
        .status()
        .unwrap();
    assert!(status.success(), "making the bomb failed");
    std::fs::read(png).unwrap()
}

#[tokio::test]
async fn a_corrupt_pdf_or_a_decompression_bomb_fails_the_release_and_nothing_reaches_the_printer() {
    let w = world().await;
    let pwg = ipp_printer("Only PWG", &["image/pwg-raster"]).await;
    let pwg_row = w.printer("PWG", &pwg.uri()).await;
    let xl = RawPrinter::start().await;
    let xl_row = w.raw_printer("PCL XL", &xl, "pclxl").await;
    for (name, format, bytes) in [
        ("corrupt.pdf", PDF, corrupt_pdf()),
        ("bomb.png", PNG, png_bomb()),
    ] {
        for row in [&pwg_row, &xl_row] {
            let job = w.park(name, format, &bytes, None).await;
            let release = w.release(row, &job, false).await;
            assert_eq!(
                release.state.as_str(),
                "failed",
                "{name} to {}: {}",
                row.name,
                release.reason
            );
            let reason = release.reason.to_lowercase();
            assert!(
                [
                    "could not be rendered",
                    "could not be converted",
                    "took longer",
                    "converter stopped"
                ]
                .iter()
                .any(|s| reason.contains(s)),
                "{name} to {}: the converter's reason: {}",
                row.name,
                release.reason
            );
            assert_eq!(w.job_state(&job).await, JobState::Held, "{name}");
        }
    }
    assert!(pwg.jobs().await.is_empty(), "ippeveprinter got no job");
    assert!(pwg.spooled_files().is_empty());
    assert_eq!(xl.bytes_received(), 0, "the raw printer got no byte");
    // The printers still print what can be converted.
    w.print(&xl_row, "doc.pdf", PDF, &w.docs.pdf, None, false)
        .await;
    let got = xl.wait_for_jobs(1, Duration::from_secs(30)).await;
    expect(&check::pclxl(&got[0]), 3, true, true, "after the failures");
    w.server.stop().await;
}
