//! Conversion at delivery (issue 17): the `Converter` runs the real `printpark
//! convert` worker and Ghostscript; every output is checked with tools that are not
//! ours (cups-filters' `rastertopdf`, poppler's `pdfinfo`, Ghostscript's `inkcov`, a
//! Python URF reader, PCL structure). Fixtures are made at test time with gs.

mod check;
mod fixtures;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use printpark::convert::{ConvertError, Converter, Duplex, Format, Spec};
use tokio::io::AsyncReadExt;

use crate::support;
use fixtures::{Fixtures, bomb_png, broken_page_two, fixtures, gs};

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
    // PNG kinds the decoder must expand: RGBA (alpha on white), 4-bit palette, 8-bit
    // grey, 16-bit RGB, 1-bit.
    for (device, colour) in [
        ("pngalpha", true),
        ("png16", true),
        ("png48", true),
        ("pnggray", false),
        ("pngmono", false),
    ] {
        let name = format!("{device}.png");
        gs(&[
            "-dFirstPage=1",
            "-dLastPage=1",
            "-r30",
            &format!("-sDEVICE={device}"),
            &format!("-sOutputFile={}", f.path(&name).display()),
            &f.path("document.pdf").to_string_lossy(),
        ]);
        let mut s = spec(Format::Png, Format::PwgRaster);
        s.media = Some("iso_a4_210x297mm".into());
        let out = convert(&c, &s, &f.path(&name)).await.unwrap();
        let pwg = f.path(&format!("{device}.pwg"));
        std::fs::write(&pwg, &out).unwrap();
        let pdf = f.path(&format!("{device}.pwg.pdf"));
        check::rastertopdf(&pwg, &pdf);
        assert_eq!(check::pdfinfo(&pdf).0, 1, "{device}");
        assert_eq!(check::rgb_colour(&pdf), vec![colour], "{device}");
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

    let mut s = spec(Format::Pdf, Format::Urf);
    s.gray = true;
    s.page_ranges = Some(vec![(2, 3)]);
    let out = convert(&c, &s, &pdf).await.unwrap();
    std::fs::write(f.path("grey.urf"), &out).unwrap();
    let pages = check::urf(&f.path("grey.urf"));
    // Two pages (the header says so too), 8-bit sGray (colour space 0).
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages.iter().all(|p| p.2 == 8 && p.3 == 0), "{pages:?}");

    // PCL 5 in black and white (ljet4), the one page asked for.
    let mut s = spec(Format::Pdf, Format::Pcl5);
    s.gray = true;
    s.page_ranges = Some(vec![(3, 3)]);
    let pcl = convert(&c, &s, &pdf).await.unwrap();
    assert_eq!(
        check::pcl5(&pcl),
        (1, 1),
        "raster starts, the project's page count"
    );

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

#[tokio::test]
async fn a_page_that_fails_after_the_first_ends_the_output_with_its_number() {
    let f = fixtures();
    let c = converter();
    let broken = broken_page_two(&f);
    // Page 1 renders: the conversion starts and hands out page 1.
    let mut out = c
        .start(&spec(Format::Pdf, Format::PwgRaster), input(&broken))
        .await
        .expect("page 1 converts");
    let mut bytes = Vec::new();
    let err = out.read_to_end(&mut bytes).await.unwrap_err();
    let err = err
        .into_inner()
        .unwrap()
        .downcast::<ConvertError>()
        .unwrap();
    assert!(
        matches!(*err, ConvertError::Render { page: Some(2), .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("page 2 could not be rendered: "),
        "{err}"
    );
    assert!(bytes.starts_with(b"RaS2"), "page 1 went out");
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
    // The killed worker's private directory in RAM is gone (only running workers
    // have one).
    for entry in std::fs::read_dir("/dev/shm").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix("printpark-convert-") {
            let pid = rest.split('-').next().unwrap();
            assert!(
                Path::new(&format!("/proc/{pid}")).exists(),
                "{name} left behind"
            );
        }
    }
}

#[tokio::test]
async fn the_first_page_is_handed_out_before_the_last_is_rendered() {
    let f = fixtures();
    // 30 pages of text and a colour noise image each (about 400 KB of PWG raster a
    // page at 300 dpi: far more than the pipes and the 1 MiB in flight hold).
    let ps = "%!PS\n/Helvetica findfont 20 scalefont setfont /row 900 string def\n\
        1 1 30 { /n exch def 0 0 1 setrgbcolor 72 740 moveto (page ) show n 4 string cvs show\n\
        gsave 72 200 translate 450 450 scale 300 300 8 [300 0 0 300 0 0]\n\
        { 0 1 899 { row exch rand 256 mod put } for row } false 3 colorimage\n\
        grestore showpage } for\n";
    std::fs::write(f.path("long.ps"), ps).unwrap();
    let c = converter();
    let mut s = spec(Format::PostScript, Format::PwgRaster);
    s.dpi = 150;
    let mut out = c.start(&s, input(&f.path("long.ps"))).await.unwrap();
    // Nothing is read yet: the worker waits once a few pages are in flight.
    let at_start = out.pages();
    assert!(
        (1..80).contains(&at_start),
        "{at_start} pages converted at start"
    );
    let mut bytes = Vec::new();
    out.read_to_end(&mut bytes).await.unwrap();
    assert_eq!(out.pages(), 30);
    let file = f.path("long.pwg");
    std::fs::write(&file, &bytes).unwrap();
    let pdf = f.path("long.pwg.pdf");
    check::rastertopdf(&file, &pdf);
    assert_eq!(check::pdfinfo(&pdf).0, 30);
    assert!(bytes.len() > 8 * 1024 * 1024, "{} bytes", bytes.len());
}
