//! Conversion at delivery (issue 17): the `Converter` runs the real `printpark
//! convert` worker and Ghostscript; every output is checked with tools that are not
//! ours (cups-filters' `rastertopdf`, poppler's `pdfinfo`, Ghostscript's `inkcov`, a
//! Python URF reader, PCL structure). Fixtures are made at test time with gs.

mod check;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use printpark::convert::{ConvertError, Converter, Duplex, Format, Spec};
use tokio::io::AsyncReadExt;

use crate::support;

/// Three pages: colour text and shapes, a colour image, then blue text.
const DOCUMENT_PS: &str = r#"%!PS
/Helvetica findfont 28 scalefont setfont
1 0 0 setrgbcolor 72 600 200 100 rectfill
0 setgray 72 500 moveto (PrintPark page one) show showpage
gsave 72 300 translate 300 300 scale
16 16 8 [16 0 0 16 0 0]
{ <ff0000 00ff00 0000ff ffff00 00ffff ff00ff 808080 000000 ff8000 0080ff 8000ff 00ff80 ff0080 80ff00 008080 800080> } false 3 colorimage
grestore 0 setgray 72 200 moveto (page two: an image) show showpage
0 0 1 setrgbcolor 72 500 moveto (page three in blue) show showpage
"#;

struct Fixtures {
    _dir: tempfile::TempDir,
    dir: PathBuf,
}

impl Fixtures {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn gs(args: &[&str]) {
    let out = Command::new("gs")
        .args(["-q", "-dSAFER", "-dBATCH", "-dNOPAUSE"])
        .args(args)
        .output()
        .expect("gs");
    assert!(
        out.status.success(),
        "gs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// document.ps, document.pdf (A4), photo.jpg, picture.png, document.pwg, document.urf.
fn fixtures() -> Fixtures {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    std::fs::write(p("document.ps"), DOCUMENT_PS).unwrap();
    let a4 = ["-sPAPERSIZE=a4", "-dFIXEDMEDIA"];
    gs(&[
        a4[0],
        a4[1],
        "-sDEVICE=pdfwrite",
        &format!("-sOutputFile={}", p("document.pdf")),
        &p("document.ps"),
    ]);
    let first = ["-dFirstPage=1", "-dLastPage=1", "-r40"];
    gs(&[
        first[0],
        first[1],
        first[2],
        "-sDEVICE=jpeg",
        &format!("-sOutputFile={}", p("photo.jpg")),
        &p("document.pdf"),
    ]);
    gs(&[
        first[0],
        first[1],
        first[2],
        "-sDEVICE=png16m",
        &format!("-sOutputFile={}", p("picture.png")),
        &p("document.pdf"),
    ]);
    let raster = ["-r60", "-dcupsColorSpace=19", "-dcupsBitsPerColor=8"];
    gs(&[
        raster[0],
        raster[1],
        raster[2],
        "-sDEVICE=pwgraster",
        &format!("-sOutputFile={}", p("document.pwg")),
        &p("document.pdf"),
    ]);
    gs(&[
        raster[0],
        raster[1],
        raster[2],
        "-sDEVICE=urf",
        &format!("-sOutputFile={}", p("document.urf")),
        &p("document.pdf"),
    ]);
    let path = dir.path().to_path_buf();
    Fixtures {
        _dir: dir,
        dir: path,
    }
}

fn converter() -> Converter {
    Converter::new(Some(support::binary()))
}

fn spec(from: Format, to: Format) -> Spec {
    Spec {
        from,
        to,
        gray: false,
        page_ranges: None,
        duplex: Duplex::OneSided,
        dpi: 100,
        media: None,
    }
}

fn input(file: &Path) -> printpark::convert::client::Input {
    Box::new(std::io::Cursor::new(std::fs::read(file).unwrap()))
}

/// Runs a conversion to its end: the output, or the error (before or after start).
async fn convert(c: &Converter, spec: &Spec, file: &Path) -> Result<Vec<u8>, ConvertError> {
    let mut out = c.start(spec, input(file)).await?;
    let mut bytes = Vec::new();
    match out.read_to_end(&mut bytes).await {
        Ok(_) => Ok(bytes),
        Err(e) => Err(e
            .into_inner()
            .and_then(|e| e.downcast::<ConvertError>().ok())
            .map(|e| *e)
            .unwrap_or(ConvertError::Died)),
    }
}

/// Writes bytes next to the fixtures and checks a PWG raster: pages, A4 size, colour.
fn check_pwg(f: &Fixtures, name: &str, bytes: &[u8], pages: u32, colour: bool) {
    let pwg = f.path(&format!("{name}.pwg"));
    std::fs::write(&pwg, bytes).unwrap();
    let pdf = f.path(&format!("{name}.pwg.pdf"));
    check::rastertopdf(&pwg, &pdf);
    let (n, w, h) = check::pdfinfo(&pdf);
    assert_eq!(n, pages, "{name}: pages");
    assert!(
        (w - 595.0).abs() < 3.0 && (h - 842.0).abs() < 3.0,
        "{name}: A4, got {w} x {h}"
    );
    let ink = check::rgb_colour(&pdf);
    assert_eq!(ink.len() as u32, pages);
    assert_eq!(ink.iter().any(|c| *c), colour, "{name}: colour {ink:?}");
    let spaces = check::pwg_color_spaces(bytes);
    assert_eq!(
        spaces,
        vec![if colour { 19 } else { 18 }],
        "{name}: colour space"
    );
}

#[tokio::test]
async fn a_colour_pdf_converts_into_every_output() {
    let f = fixtures();
    let c = converter();
    assert!(c.check().is_ok(), "{:?}", c.check());
    let pdf = f.path("document.pdf");

    let pwg = convert(&c, &spec(Format::Pdf, Format::PwgRaster), &pdf)
        .await
        .unwrap();
    check_pwg(&f, "pdf-to-pwg", &pwg, 3, true);

    let urf = convert(&c, &spec(Format::Pdf, Format::Urf), &pdf)
        .await
        .unwrap();
    std::fs::write(f.path("out.urf"), &urf).unwrap();
    let pages = check::urf(&f.path("out.urf"));
    assert_eq!(pages.len(), 3, "{pages:?}");
    // A4 at 100 dpi, 24-bit sRGB (colour space 1).
    assert!(
        pages.iter().all(|p| (826..=827).contains(&p.0)
            && p.1 == 1169
            && p.2 == 24
            && p.3 == 1
            && p.4 == 100),
        "{pages:?}"
    );

    let xl = convert(&c, &spec(Format::Pdf, Format::PclXl), &pdf)
        .await
        .unwrap();
    assert_eq!(check::pclxl(&xl), 3);

    let pcl = convert(&c, &spec(Format::Pdf, Format::Pcl5), &pdf)
        .await
        .unwrap();
    let (rasters, pages) = check::pcl5(&pcl);
    assert_eq!(rasters, 3, "PCL 5 raster starts");
    assert_eq!(pages, 3, "the project's analyser");

    let ps = convert(&c, &spec(Format::Pdf, Format::PostScript), &pdf)
        .await
        .unwrap();
    assert!(ps.starts_with(b"%!PS"));
    std::fs::write(f.path("out.ps"), &ps).unwrap();
    assert_eq!(check::inkcov(&f.path("out.ps")), vec![true, true, true]);

    let mut to_pdf = spec(Format::Pdf, Format::Pdf);
    to_pdf.media = Some("na_letter_8.5x11in".into());
    let out = convert(&c, &to_pdf, &pdf).await.unwrap();
    std::fs::write(f.path("out.pdf"), &out).unwrap();
    let (n, w, h) = check::pdfinfo(&f.path("out.pdf"));
    assert_eq!((n, w.round(), h.round()), (3, 612.0, 792.0));
    assert_eq!(check::inkcov(&f.path("out.pdf")), vec![true, true, true]);

    // JPEG: one page per document, asked page by page.
    let mut jpeg = spec(Format::Pdf, Format::Jpeg);
    jpeg.page_ranges = Some(vec![(2, 2)]);
    let out = convert(&c, &jpeg, &pdf).await.unwrap();
    let (w, h, components) = check::jpeg(&out);
    assert!(
        (826..=827).contains(&w) && h == 1169 && components == 3,
        "{w} x {h} x {components}"
    );
    assert_eq!(check::count(&out, b"\xff\xd9"), 1, "one JPEG image");
}

#[tokio::test]
async fn every_input_converts() {
    let f = fixtures();
    let c = converter();
    // PostScript → PWG raster (3 colour pages), A4.
    let mut to_pwg = spec(Format::PostScript, Format::PwgRaster);
    to_pwg.media = Some("iso_a4_210x297mm".into());
    let out = convert(&c, &to_pwg, &f.path("document.ps")).await.unwrap();
    check_pwg(&f, "ps-to-pwg", &out, 3, true);
    // JPEG and PNG → one colour page, fitted onto A4.
    for (from, name) in [(Format::Jpeg, "photo.jpg"), (Format::Png, "picture.png")] {
        let mut s = spec(from, Format::PwgRaster);
        s.media = Some("iso_a4_210x297mm".into());
        let out = convert(&c, &s, &f.path(name)).await.unwrap();
        check_pwg(&f, name, &out, 1, true);
    }
    // PWG raster and URF (decoded in the worker) → PCL XL and PDF.
    for (from, name) in [
        (Format::PwgRaster, "document.pwg"),
        (Format::Urf, "document.urf"),
    ] {
        let xl = convert(&c, &spec(from, Format::PclXl), &f.path(name))
            .await
            .unwrap();
        assert_eq!(check::pclxl(&xl), 3, "{name}");
        let pdf = convert(&c, &spec(from, Format::Pdf), &f.path(name))
            .await
            .unwrap();
        let out = f.path(&format!("{name}.pdf"));
        std::fs::write(&out, &pdf).unwrap();
        let (n, w, h) = check::pdfinfo(&out);
        assert_eq!(n, 3, "{name}");
        assert!(
            (w - 595.0).abs() < 3.0 && (h - 842.0).abs() < 3.0,
            "{name}: {w} x {h}"
        );
        assert_eq!(check::inkcov(&out), vec![true, true, true], "{name}");
    }
    // And counting.
    for (from, name, pages) in [
        (Format::Pdf, "document.pdf", 3),
        (Format::PostScript, "document.ps", 3),
        (Format::Jpeg, "photo.jpg", 1),
        (Format::Png, "picture.png", 1),
        (Format::PwgRaster, "document.pwg", 3),
        (Format::Urf, "document.urf", 3),
    ] {
        let n = c.count_pages(from, input(&f.path(name))).await;
        assert_eq!(n, Ok(pages), "{name}");
    }
}

#[tokio::test]
async fn grey_and_page_ranges_are_made() {
    let f = fixtures();
    let c = converter();
    let pdf = f.path("document.pdf");
    let mut s = spec(Format::Pdf, Format::PwgRaster);
    s.gray = true;
    s.page_ranges = Some(vec![(1, 1), (3, 3)]);
    let out = convert(&c, &s, &pdf).await.unwrap();
    check_pwg(&f, "grey-ranges", &out, 2, false);

    for to in [Format::Pdf, Format::PostScript] {
        let mut s = spec(Format::Pdf, to);
        s.gray = true;
        s.page_ranges = Some(vec![(2, 3)]);
        let out = convert(&c, &s, &pdf).await.unwrap();
        let file = f.path(&format!(
            "grey.{}",
            if to == Format::Pdf { "pdf" } else { "ps" }
        ));
        std::fs::write(&file, &out).unwrap();
        assert_eq!(check::inkcov(&file), vec![false, false], "{to:?}");
    }

    let mut s = spec(Format::Pdf, Format::PclXl);
    s.gray = true;
    s.page_ranges = Some(vec![(2, 2)]);
    let xl = convert(&c, &s, &pdf).await.unwrap();
    assert_eq!(check::pclxl(&xl), 1);
    // SetColorSpace (0x6a) with ColorSpace (attribute 3) eGray (1), never eRGB (2).
    assert!(
        check::count(&xl, &[0xc0, 1, 0xf8, 3, 0x6a]) >= 1,
        "PCL XL in grey"
    );
    assert_eq!(
        check::count(&xl, &[0xc0, 2, 0xf8, 3, 0x6a]),
        0,
        "PCL XL in RGB"
    );
}

#[tokio::test]
async fn bad_documents_fail_before_anything_is_handed_out() {
    let f = fixtures();
    let c = converter();
    // A PDF cut in the middle of its first page's content, its tables gone.
    let pdf = std::fs::read(f.path("document.pdf")).unwrap();
    let mut corrupt = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >> endobj\n4 0 obj << /Length 900 /Filter /FlateDecode >> stream\n".to_vec();
    corrupt.extend_from_slice(&pdf[pdf.len() / 3..pdf.len() / 3 + 400]);
    std::fs::write(f.path("corrupt.pdf"), &corrupt).unwrap();
    let err = c
        .start(
            &spec(Format::Pdf, Format::PwgRaster),
            input(&f.path("corrupt.pdf")),
        )
        .await
        .err()
        .expect("a corrupt PDF fails at start");
    assert!(matches!(err, ConvertError::Render { .. }), "{err:?}");
    assert!(err.to_string().contains("could not"), "{err}");

    // A PNG whose header promises 60000 x 60000 pixels (3.4 GB decoded).
    let png = bomb_png();
    std::fs::write(f.path("bomb.png"), &png).unwrap();
    let err = c
        .start(
            &spec(Format::Png, Format::PwgRaster),
            input(&f.path("bomb.png")),
        )
        .await
        .err()
        .expect("a PNG bomb fails at start");
    assert!(err.to_string().contains("too large"), "{err}");

    // A PWG raster page of 60000 x 60000 white pixels in a few bytes per line.
    let mut pwg = std::fs::read(f.path("document.pwg")).unwrap();
    pwg.truncate(4 + 1796);
    pwg[4 + 372..4 + 376].copy_from_slice(&60000u32.to_be_bytes());
    pwg[4 + 376..4 + 380].copy_from_slice(&60000u32.to_be_bytes());
    pwg[4 + 392..4 + 396].copy_from_slice(&180000u32.to_be_bytes());
    pwg.extend(std::iter::repeat_n([255u8, 128], 1000).flatten());
    std::fs::write(f.path("bomb.pwg"), &pwg).unwrap();
    let err = c
        .start(
            &spec(Format::PwgRaster, Format::PclXl),
            input(&f.path("bomb.pwg")),
        )
        .await
        .err()
        .expect("a PWG bomb fails at start");
    assert!(err.to_string().contains("too large"), "{err}");
}

/// A valid PNG header (60000 x 60000, 8-bit RGB) and a little zlib data.
fn bomb_png() -> Vec<u8> {
    use std::io::Write;
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![0u8; 4 * 1024 * 1024]).unwrap();
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

#[tokio::test]
async fn a_hanging_renderer_is_killed_and_the_next_conversion_works() {
    let f = fixtures();
    std::fs::write(f.path("hang.ps"), "%!PS\n{ 1 pop } loop\n").unwrap();
    let c = converter().with_limits(Duration::from_secs(3), Duration::from_secs(6));
    let started = std::time::Instant::now();
    // An odd resolution marks this test's Ghostscript in the process list.
    let mut hang = spec(Format::PostScript, Format::PwgRaster);
    hang.dpi = 73;
    let err = c
        .start(&hang, input(&f.path("hang.ps")))
        .await
        .err()
        .expect("a hanging document fails");
    assert_eq!(err, ConvertError::Timeout(3));
    assert!(started.elapsed() < Duration::from_secs(20));
    // No Ghostscript is left running on that document.
    let left = Command::new("pgrep")
        .args(["-f", "sDEVICE=pwgraster -r73 "])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "a renderer survived");
    let out = convert(
        &c,
        &spec(Format::Pdf, Format::PclXl),
        &f.path("document.pdf"),
    )
    .await
    .unwrap();
    assert_eq!(check::pclxl(&out), 3);
}
