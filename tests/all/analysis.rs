//! Analysis of real documents made by other software (Ghostscript's pdfwrite,
//! pwgraster and jpeg devices; see tests/fixtures/documents/README.md).

use printpark::jobs::analyse::Analyzer;

fn analyse(name: &str) -> printpark::jobs::analyse::Analysis {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/documents")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut analyzer = Analyzer::default();
    for piece in bytes.chunks(4093) {
        analyzer.feed(piece);
    }
    analyzer.finish()
}

#[test]
fn ghostscript_pdfs_report_their_two_pages() {
    for name in ["document-a4.pdf", "document-letter.pdf"] {
        let a = analyse(name);
        assert_eq!(
            (a.format, a.pages),
            ("application/pdf", Some(2)),
            "{name}: {a:?}"
        );
    }
}

#[test]
fn postscript_dsc_reports_two_pages() {
    let a = analyse("document-a4.ps");
    assert_eq!((a.format, a.pages), ("application/postscript", Some(2)));
}

#[test]
fn pwg_raster_pages_are_decoded_with_their_colour_space() {
    let a = analyse("document-a4-srgb8-150.pwg");
    assert_eq!(
        (a.format, a.pages, a.color),
        ("image/pwg-raster", Some(2), Some(true)),
        "{a:?}"
    );
    let a = analyse("document-a4-black1-300.pwg");
    assert_eq!(
        (a.format, a.pages, a.color),
        ("image/pwg-raster", Some(2), Some(false)),
        "{a:?}"
    );
}

#[test]
fn jpeg_colour_and_grey_are_told_apart() {
    assert_eq!(analyse("color.jpg").color, Some(true));
    assert_eq!(analyse("gray.jpg").color, Some(false));
    assert_eq!(analyse("gray.jpg").pages, Some(1));
}

#[test]
fn pcl_5_and_pcl_xl_pages_are_counted_past_their_binary_data() {
    // Ghostscript's ljet4 (PCL 5 raster: 66 form-feed bytes in all, 2 real pages) and
    // pxlmono (PJL, then PCL XL).
    for name in ["document-a4-ljet4.pcl", "document-a4-pxlmono.pxl"] {
        let a = analyse(name);
        assert_eq!(
            (a.format, a.pages, a.warning.as_deref()),
            ("application/vnd.hp-PCL", Some(2), None),
            "{name}"
        );
    }
}

#[test]
fn png_is_one_page_with_its_colour_type() {
    let color = analyse("color.png");
    assert_eq!(
        (color.format, color.pages, color.color),
        ("image/png", Some(1), Some(true))
    );
    let gray = analyse("gray.png");
    assert_eq!((gray.pages, gray.color), (Some(1), Some(false)));
}
