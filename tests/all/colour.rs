//! Colour and page count of PDFs as printing systems make them (issue 20, item 3):
//! CUPS' `pdftopdf` wraps every page in a form XObject, and a colour PDF printed
//! through CUPS was parked as mono. Each document here is made twice — by
//! Ghostscript's `pdfwrite` from a PostScript source, and by CUPS' own filter run on
//! that PDF as cupsd runs it — and judged independently by Ghostscript's `inkcov`
//! device; PrintPark's verdict (the sandboxed analyser, through parking) and its page
//! count must match Ghostscript's for every file. One CUPS-made colour PDF also
//! arrives by IPP Print-Job (ipptool), on SQLite and Postgres.
//!
//! The judge: Ghostscript's ink coverage devices (`gdevicov.c`). `inkcov` reports per
//! page the share of pixels each of C, M, Y, K touches, which cannot tell green from
//! grey (both touch C, M and Y on the same pixels); its sibling `ink_cov` reports how
//! much of each ink is laid down, and is used here, with `-dUseFastColor`: RGB and grey
//! convert without ICC profiles, so a neutral (r = g = b) becomes c = m = y and a page
//! is colour when its C, M and Y amounts differ. (With the default ICC conversion a
//! neutral RGB grey turns into a rich black with C, M, Y above zero, which would call
//! every grey written in RGB colour — not PrintPark's rule, nor a printer's meter's.)

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use printpark::identity::{ClientInfo, User};
use printpark::jobs::{ColorMode, Compression, Sides, Submission};
use support::{Backend, TestServer};

/// A page counts as colour when its C, M, Y amounts (percent) differ by more than this.
const EPSILON: f64 = 0.001;

/// One source: a name and a PostScript program (pages end with `showpage`).
struct Source {
    name: &'static str,
    program: String,
}

/// `w`×`h` RGB pixels as PostScript hex, from a function of (x, y).
fn rgb_hex(w: usize, h: usize, pixel: impl Fn(usize, usize) -> [u8; 3]) -> String {
    let mut hex = String::new();
    for y in 0..h {
        for x in 0..w {
            for c in pixel(x, y) {
                hex.push_str(&format!("{c:02x}"));
            }
        }
        hex.push('\n');
    }
    hex
}

fn rgb_image(hex: &str) -> String {
    format!(
        "gsave 100 300 translate 300 300 scale 64 64 8 [64 0 0 64 0 0] <{hex}> false 3 colorimage grestore\n"
    )
}

fn sources() -> Vec<Source> {
    let text = |colour: &str| {
        format!(
            "/Helvetica findfont 36 scalefont setfont {colour} 72 700 moveto (Quarterly report) show\n"
        )
    };
    let tiling = |paint: &str| {
        format!(
            "<< /PatternType 1 /PaintType 1 /TilingType 1 /BBox [0 0 10 10] /XStep 10 /YStep 10 \
             /PaintProc {{ pop {paint} 0 0 5 5 rectfill }} >> matrix makepattern setpattern \
             100 100 300 300 rectfill\n"
        )
    };
    let shading = |space: &str, c0: &str, c1: &str| {
        format!(
            "<< /ShadingType 2 /ColorSpace /{space} /Coords [100 0 500 0] /Function << /FunctionType 2 \
             /Domain [0 1] /C0 [{c0}] /C1 [{c1}] /N 1 >> >> shfill\n"
        )
    };
    // 64 × 64 (12 KiB): Ghostscript writes smaller images inline, whose compressed
    // pixels PrintPark does not decode (an RGB one counts as colour).
    let colour_pixels = rgb_hex(64, 64, |x, y| [(x * 4) as u8, (y * 4) as u8, 128]);
    let grey_pixels = rgb_hex(64, 64, |x, y| {
        let v = ((x + y) * 2) as u8;
        [v, v, v]
    });
    let page = |body: String| format!("{body}showpage\n");
    let s = |name, program| Source { name, program };
    vec![
        // Colour, one way each.
        s("colour-text", page(text("1 0 0 setrgbcolor"))),
        s(
            "colour-vector",
            page("0 0 1 setrgbcolor 100 100 300 200 rectfill\n".into()),
        ),
        s("colour-image", page(rgb_image(&colour_pixels))),
        s(
            "colour-shading",
            page(shading("DeviceRGB", "1 0 0", "0 0 1")),
        ),
        s("colour-pattern", page(tiling("1 0 0 setrgbcolor"))),
        s(
            "colour-spot",
            page(
                "[/Separation /Leaf /DeviceCMYK { dup 0 exch 0 }] setcolorspace 1 setcolor \
                 100 100 300 300 rectfill\n"
                    .into(),
            ),
        ),
        s(
            "colour-indexed",
            page(
                "[/Indexed /DeviceRGB 1 <ff0000 00ff00>] setcolorspace 100 100 translate 300 300 scale \
                 << /ImageType 1 /Width 2 /Height 2 /BitsPerComponent 8 /Decode [0 255] \
                 /ImageMatrix [2 0 0 2 0 0] /DataSource <00010100> >> image\n"
                    .into(),
            ),
        ),
        // A mono first page and a colour second: colour, two pages.
        s(
            "colour-on-page-two",
            page(text("0 setgray")) + &page(text("0 0.5 0 setrgbcolor")),
        ),
        // Mono, the same ways (greys written in RGB too).
        s("mono-text", page(text("0 setgray"))),
        s(
            "mono-vector-rgb-grey",
            page("0.5 0.5 0.5 setrgbcolor 100 100 300 200 rectfill 0.2 setgray 100 400 100 100 rectfill\n".into()),
        ),
        s("mono-image-rgb-grey", page(rgb_image(&grey_pixels))),
        s(
            "mono-shading",
            page(shading("DeviceGray", "0", "1")),
        ),
        s("mono-pattern", page(tiling("0.4 setgray"))),
        s(
            "mono-indexed-greys",
            page(
                "[/Indexed /DeviceRGB 1 <000000 808080>] setcolorspace 100 100 translate 300 300 scale \
                 << /ImageType 1 /Width 2 /Height 2 /BitsPerComponent 8 /Decode [0 255] \
                 /ImageMatrix [2 0 0 2 0 0] /DataSource <00010100> >> image\n"
                    .into(),
            ),
        ),
        s(
            "mono-three-pages",
            page(text("0 setgray")) + &page(text("0.3 setgray")) + &page(text("0 0 0 setrgbcolor")),
        ),
    ]
}

fn run(command: &mut Command) -> Vec<u8> {
    let output = command.output().unwrap_or_else(|e| {
        panic!("{command:?}: {e} (tests/run.sh installs ghostscript and cups)")
    });
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Ghostscript's PDF of a PostScript program.
fn pdfwrite(dir: &Path, source: &Source) -> PathBuf {
    let ps = dir.join(format!("{}.ps", source.name));
    std::fs::write(&ps, format!("%!PS\n{}", source.program)).unwrap();
    let pdf = dir.join(format!("{}.pdf", source.name));
    run(Command::new("gs")
        .args(["-q", "-dBATCH", "-dNOPAUSE", "-dSAFER", "-sDEVICE=pdfwrite"])
        .arg(format!("-sOutputFile={}", pdf.display()))
        .arg(&ps));
    pdf
}

/// The PDF CUPS sends on: `pdftopdf` run as cupsd runs a filter (job, user, title,
/// copies, options, file; the type in CONTENT_TYPE; no PPD: a driverless queue).
fn cups_pdftopdf(dir: &Path, pdf: &Path) -> PathBuf {
    let name = pdf.file_stem().unwrap().to_string_lossy();
    let out = dir.join(format!("{name}-cups.pdf"));
    let bytes = run(Command::new("/usr/lib/cups/filter/pdftopdf")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("CONTENT_TYPE", "application/pdf")
        .env("FINAL_CONTENT_TYPE", "application/pdf")
        .args(["1", "ada", &name, "1", "", &pdf.display().to_string()]));
    assert!(
        bytes.starts_with(b"%PDF-"),
        "pdftopdf made no PDF of {name}"
    );
    std::fs::write(&out, bytes).unwrap();
    out
}

/// Ghostscript's judgement: per page, whether it is colour.
fn inkcov(pdf: &Path) -> Vec<bool> {
    let out = run(Command::new("gs")
        .args([
            "-q",
            "-dBATCH",
            "-dNOPAUSE",
            "-dSAFER",
            "-dUseFastColor",
            "-sDEVICE=ink_cov",
            "-o",
            "-",
        ])
        .arg(pdf));
    String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.contains("CMYK"))
        .map(|line| {
            let v: Vec<f64> = line
                .split_whitespace()
                .take(4)
                .map(|n| n.parse().unwrap())
                .collect();
            let (lo, hi) = v[..3]
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
            hi - lo > EPSILON
        })
        .collect()
}

async fn park(
    server: &TestServer,
    owner: &User,
    name: &str,
    bytes: &[u8],
) -> printpark::jobs::HeldJob {
    let submission = Submission {
        name,
        format: "application/pdf",
        copies: 1,
        sides: Sides::OneSided,
        source: "portal",
        compression: Compression::None,
        color_mode: ColorMode::Auto,
        accept: None,
        page_ranges: None,
    };
    server
        .services
        .jobs
        .park(owner, &submission, &mut &bytes[..], &ClientInfo::default())
        .await
        .unwrap()
}

/// Every source, as Ghostscript and as CUPS make it: PrintPark and `inkcov` agree on
/// colour and pages.
#[tokio::test]
async fn colour_and_pages_match_ghostscript_for_ghostscript_and_cups_pdfs() {
    let server = TestServer::start(Backend::Sqlite).await;
    let owner = support::create_user(&server, "ada", "ada's long password 1").await;
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for source in sources() {
        let made = pdfwrite(dir.path(), &source);
        let cups = cups_pdftopdf(dir.path(), &made);
        for pdf in [made, cups] {
            let pages = inkcov(&pdf);
            assert!(!pages.is_empty(), "gs read no page of {}", pdf.display());
            let gs_colour = pages.iter().any(|c| *c);
            // The source's name says what was meant; the judge must agree with it,
            // or the case proves nothing.
            assert_eq!(
                gs_colour,
                source.name.starts_with("colour"),
                "inkcov on {}: {pages:?}",
                pdf.display()
            );
            let name = pdf.file_name().unwrap().to_string_lossy().into_owned();
            let job = park(&server, &owner, &name, &std::fs::read(&pdf).unwrap()).await;
            if job.color != Some(gs_colour) || job.pages != Some(pages.len() as i64) {
                wrong.push(format!(
                    "{name}: PrintPark colour {:?} pages {:?}, Ghostscript colour {gs_colour} pages {} ({:?})",
                    job.color,
                    job.pages,
                    pages.len(),
                    job.analysis_note
                ));
            }
            checked += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(checked, 2 * sources().len());
    server.stop().await;
}

/// A CUPS-made colour PDF sent by IPP Print-Job (ipptool, as a client would) is
/// parked in colour with Ghostscript's page count.
async fn a_cups_colour_pdf_by_ipp_is_colour(backend: Backend) {
    let server = TestServer::start(backend).await;
    let owner = support::create_user(&server, "ada", "ada's long password 1").await;
    let dir = tempfile::tempdir().unwrap();
    let source = sources()
        .into_iter()
        .find(|s| s.name == "colour-on-page-two")
        .unwrap();
    let cups = cups_pdftopdf(dir.path(), &pdfwrite(dir.path(), &source));
    let pages = inkcov(&cups);
    assert_eq!(pages, [false, true]);
    let uri = format!(
        "{}/ipp/print",
        server
            .base
            .replace("https://", "ipps://ada:ada%27s%20long%20password%201@")
    );
    let test = dir.path().join("print.test");
    std::fs::write(
        &test,
        "{\n NAME \"Print-Job\"\n OPERATION Print-Job\n GROUP operation-attributes-tag\n \
         ATTR charset attributes-charset utf-8\n ATTR naturalLanguage attributes-natural-language en\n \
         ATTR uri printer-uri $uri\n ATTR name requesting-user-name ada\n ATTR name job-name colour-by-cups\n \
         ATTR mimeMediaType document-format application/pdf\n FILE $filename\n STATUS successful-ok\n}\n",
    )
    .unwrap();
    let args = [
        "-t".to_string(),
        "-T".into(),
        "30".into(),
        "-f".into(),
        cups.display().to_string(),
        uri,
        test.display().to_string(),
    ];
    let output = tokio::task::spawn_blocking(move || Command::new("ipptool").args(args).output())
        .await
        .unwrap()
        .expect("ipptool is installed by tests/run.sh");
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}");
    let held = server.services.jobs.held_jobs_of(&owner).await.unwrap();
    let job = held
        .iter()
        .find(|j| j.name == "colour-by-cups")
        .unwrap_or_else(|| panic!("not parked: {held:?}"));
    assert_eq!((job.color, job.pages), (Some(true), Some(2)), "{job:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_cups_colour_pdf_by_ipp_is_colour_sqlite() {
    a_cups_colour_pdf_by_ipp_is_colour(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_cups_colour_pdf_by_ipp_is_colour_postgres() {
    a_cups_colour_pdf_by_ipp_is_colour(Backend::Postgres).await;
}

/// Hostile nesting: forms that call each other in a loop, and a very deep chain,
/// give an answer (or "unknown") at once, not a hang or a crash of the server.
#[tokio::test]
async fn form_loops_and_deep_nesting_end() {
    let server = TestServer::start(Backend::Sqlite).await;
    let owner = support::create_user(&server, "ada", "ada's long password 1").await;
    // Object 4 and 5 are forms calling each other; the page calls 4.
    let looped = hand_pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 6 0 R /Resources << /XObject << /A 4 0 R >> >> >>",
        "<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /B 5 0 R >> >> /Length 5 >>\nstream\n/B Do\nendstream",
        "<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /A 4 0 R >> >> /Length 18 >>\nstream\n/A Do 0 0 1 1 re f\nendstream",
        "<< /Length 5 >>\nstream\n/A Do\nendstream",
    ]);
    let job = park(&server, &owner, "loop.pdf", &looped).await;
    assert_eq!((job.pages, job.color), (Some(1), Some(false)), "{job:?}");

    // A chain of 200 forms, the last painting red: past the depth limit, "unknown".
    let depth = 200;
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R /Resources << /XObject << /F 5 0 R >> >> >>".into(),
        "<< /Length 5 >>\nstream\n/F Do\nendstream".into(),
    ];
    for i in 0..depth {
        let n = 5 + i;
        let (content, resources) = if i + 1 == depth {
            ("1 0 0 rg 0 0 5 5 re f".to_string(), String::new())
        } else {
            (
                "/F Do".to_string(),
                format!("/XObject << /F {} 0 R >>", n + 1),
            )
        };
        objects.push(format!(
            "<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << {resources} >> /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    let refs: Vec<&str> = objects.iter().map(String::as_str).collect();
    let job = park(&server, &owner, "deep.pdf", &hand_pdf(&refs)).await;
    assert_eq!(job.pages, Some(1));
    assert_ne!(
        job.color,
        Some(false),
        "a red page behind 200 forms called mono"
    );
    server.stop().await;
}

/// A PDF of these objects (numbered from 1) with a correct cross-reference table.
fn hand_pdf(objects: &[&str]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}
