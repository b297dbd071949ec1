//! What arrived at a printer, read with tools that are not PrintPark's: cups-filters'
//! `rastertopdf`, poppler's `pdfinfo`, Ghostscript's `inkcov`, `mutool`, and small
//! Python decoders written here from the format descriptions (Apple raster, JPEG).
//! PCL is checked by its structure (the commands that say colour and paper) and its
//! pages by the project's own PCL analyser, as the issue allows.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A4 in PostScript points.
pub const A4: (f64, f64) = (595.0, 842.0);

#[derive(Debug, Clone, Default)]
pub struct Arrived {
    pub pages: u32,
    /// Any page has colour.
    pub colour: bool,
    /// Page size in points, when the format says it.
    pub size_pt: Option<(f64, f64)>,
    /// Each page's dominant colour: 'r', 'g', 'b', or 'k' for grey (where known).
    pub dominant: Vec<char>,
    /// Pixel size of the first page (raster and JPEG).
    pub pixels: Option<(u32, u32)>,
}

fn temp_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Ghostscript's ink coverage of each page of a PDF or PostScript file: (C, M, Y, K).
fn inkcov(path: &Path) -> Vec<[f64; 4]> {
    let out = run(Command::new("gs")
        .args([
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=inkcov",
            "-o",
            "-",
        ])
        .arg(path));
    out.lines()
        .filter(|l| l.contains("CMYK"))
        .map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .take(4)
                .map(|n| n.parse().unwrap())
                .collect();
            [v[0], v[1], v[2], v[3]]
        })
        .collect()
}

/// The colour a page's coloured ink says: the primary missing from C, M, Y.
fn dominant([c, m, y, _]: [f64; 4]) -> char {
    if c.max(m).max(y) < 0.001 {
        'k'
    } else if c <= m && c <= y {
        'r'
    } else if m <= c && m <= y {
        'g'
    } else {
        'b'
    }
}

fn from_inkcov(pages: &[[f64; 4]]) -> (bool, Vec<char>) {
    let colour = pages.iter().any(|p| p[..3].iter().any(|v| *v > 0.001));
    (colour, pages.iter().map(|p| dominant(*p)).collect())
}

/// A PDF: pages and size by `pdfinfo`, colour by `inkcov`.
pub fn pdf(bytes: &[u8]) -> Arrived {
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(dir.path(), "in.pdf", bytes);
    pdf_file(&path)
}

fn pdf_file(path: &Path) -> Arrived {
    let info = run(Command::new("pdfinfo").arg(path));
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("pdfinfo has no {name}: {info}"))
            .to_string()
    };
    let pages: u32 = field("Pages:").parse().unwrap();
    let size = field("Page size:");
    let mut numbers = size.split_whitespace();
    let w: f64 = numbers.next().unwrap().parse().unwrap();
    numbers.next();
    let h: f64 = numbers.next().unwrap().parse().unwrap();
    let ink = inkcov(path);
    assert_eq!(ink.len() as u32, pages, "inkcov and pdfinfo disagree");
    let (colour, dominant) = from_inkcov(&ink);
    Arrived {
        pages,
        colour,
        size_pt: Some((w, h)),
        dominant,
        pixels: None,
    }
}

/// PWG raster: made into PDF by cups-filters' `rastertopdf`, then read as a PDF.
pub fn pwg(bytes: &[u8]) -> Arrived {
    assert!(bytes.starts_with(b"RaS2"), "not PWG raster");
    let dir = tempfile::tempdir().unwrap();
    let raster = temp_file(dir.path(), "in.pwg", bytes);
    let output = Command::new("/usr/lib/cups/filter/rastertopdf")
        .args(["1", "test", "test", "1", ""])
        .arg(&raster)
        .output()
        .expect("cups-filters' rastertopdf");
    assert!(
        output.status.success() && output.stdout.starts_with(b"%PDF"),
        "rastertopdf failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = temp_file(dir.path(), "out.pdf", &output.stdout);
    pdf_file(&path)
}

/// Apple raster, decoded by Python from the format description: the file header, each
/// page's header (bits per pixel, colour space, size, resolution) and its run-length
/// coded lines, where colour is looked for in every pixel.
const URF_DECODER: &str = r#"
import sys, struct
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'UNIRAST\0', 'not URF'
pos = 12
while pos < len(d):
    bpp, cs = d[pos], d[pos + 1]
    w, h, dpi = struct.unpack('>III', d[pos + 12:pos + 24])
    pos += 32
    size = bpp // 8
    assert size in (1, 3, 4, 8), 'bits per pixel %d' % bpp
    tally = [0, 0, 0]
    y = 0
    while y < h:
        repeat = d[pos] + 1
        pos += 1
        x = 0
        while x < w:
            code = d[pos]
            pos += 1
            if code == 0x80:
                x = w
            elif code < 0x80:
                px = d[pos:pos + size]
                pos += size
                n = code + 1
                if size >= 3 and max(px[:3]) - min(px[:3]) > 24:
                    tally[px[:3].index(max(px[:3]))] += n * repeat
                x += n
            else:
                n = 257 - code
                for i in range(n):
                    px = d[pos + i * size:pos + (i + 1) * size]
                    if size >= 3 and max(px[:3]) - min(px[:3]) > 24:
                        tally[px[:3].index(max(px[:3]))] += repeat
                pos += n * size
                x += n
        y += repeat
    dom = 'k' if max(tally) == 0 else 'rgb'[tally.index(max(tally))]
    print(bpp, cs, w, h, dpi, dom)
"#;

pub fn urf(bytes: &[u8]) -> Arrived {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(dir.path(), "in.urf", bytes);
    let out = run(Command::new("python3").args(["-c", URF_DECODER]).arg(&path));
    let pages: Vec<Vec<String>> = out
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    assert!(!pages.is_empty(), "no page in the URF");
    let n = |page: &[String], i: usize| -> u32 { page[i].parse().unwrap() };
    let first = &pages[0];
    let (w, h, dpi) = (
        n(first.as_slice(), 2),
        n(first.as_slice(), 3),
        n(first.as_slice(), 4),
    );
    let dominant: Vec<char> = pages.iter().map(|p| p[5].chars().next().unwrap()).collect();
    Arrived {
        pages: pages.len() as u32,
        // 24 or more bits per pixel in sRGB (or another colour space), and colour in
        // the pixels; grey is 8 bits in colour space 0.
        colour: dominant.iter().any(|d| *d != 'k'),
        size_pt: Some((
            f64::from(w) * 72.0 / f64::from(dpi),
            f64::from(h) * 72.0 / f64::from(dpi),
        )),
        dominant,
        pixels: Some((w, h)),
    }
}

/// The size and components of a JPEG from its start-of-frame marker.
fn jpeg_frame(bytes: &[u8]) -> (u32, u32, u8) {
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "not a JPEG");
    let mut pos = 2;
    while pos + 4 < bytes.len() {
        assert_eq!(bytes[pos], 0xFF, "JPEG marker expected at {pos}");
        let marker = bytes[pos + 1];
        let length = u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]) as usize;
        if matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
            let h = u16::from_be_bytes([bytes[pos + 5], bytes[pos + 6]]);
            let w = u16::from_be_bytes([bytes[pos + 7], bytes[pos + 8]]);
            return (u32::from(w), u32::from(h), bytes[pos + 9]);
        }
        pos += 2 + length;
    }
    panic!("no start of frame in the JPEG");
}

/// One JPEG (one page): its size from the frame header, its colour by `mutool`
/// making it a PDF and `inkcov` reading that.
pub fn jpeg(bytes: &[u8]) -> Arrived {
    let (w, h, components) = jpeg_frame(bytes);
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(dir.path(), "in.jpg", bytes);
    let pdf = dir.path().join("out.pdf");
    run(Command::new("mutool")
        .arg("convert")
        .arg("-o")
        .arg(&pdf)
        .arg(&path));
    let (colour, dominant) = from_inkcov(&inkcov(&pdf));
    assert!(
        components == 3 || !colour,
        "a colour JPEG with {components} components"
    );
    Arrived {
        pages: 1,
        colour,
        size_pt: None,
        dominant,
        pixels: Some((w, h)),
    }
}

/// An A4 portrait page in pixels: width / height ≈ 210 / 297.
pub fn portrait_a4_ratio(arrived: &Arrived, what: &str) {
    let (w, h) = arrived.pixels.unwrap();
    let ratio = f64::from(w) / f64::from(h);
    assert!(
        (ratio - 210.0 / 297.0).abs() < 0.02,
        "{what}: {w} x {h} px is not A4 portrait"
    );
}

/// PostScript: pages and colour by Ghostscript's `inkcov`, size by making it a PDF
/// (Ghostscript) and asking `pdfinfo`.
pub fn postscript(bytes: &[u8]) -> Arrived {
    assert!(bytes.starts_with(b"%!"), "not PostScript");
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(dir.path(), "in.ps", bytes);
    let ink = inkcov(&path);
    let pdf = dir.path().join("out.pdf");
    run(Command::new("gs")
        .args(["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite"])
        .arg(format!("-sOutputFile={}", pdf.display()))
        .arg(&path));
    let as_pdf = pdf_file(&pdf);
    let (colour, dominant) = from_inkcov(&ink);
    Arrived {
        pages: ink.len() as u32,
        colour,
        size_pt: as_pdf.size_pt,
        dominant,
        pixels: None,
    }
}

/// Pages by the project's own PCL analyser.
fn analysed_pages(bytes: &[u8]) -> u32 {
    let mut analyzer = printpark::jobs::analyse::Analyzer::default();
    analyzer.feed(bytes);
    let analysis = analyzer.finish();
    u32::try_from(analysis.pages.expect("the PCL analyser counts the pages")).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// PCL XL: the stream header, the colour space set (`ColorSpace` attribute: eRGB 2,
/// eGray 1) and the paper (`MediaSize` eA4Paper 2), pages by the analyser.
pub fn pclxl(bytes: &[u8]) -> Arrived {
    assert!(contains(bytes, b") HP-PCL XL;"), "no PCL XL stream header");
    let rgb = contains(bytes, &[0xC0, 0x02, 0xF8, 0x03]);
    let gray = contains(bytes, &[0xC0, 0x01, 0xF8, 0x03]);
    assert!(rgb || gray, "no colour space set");
    Arrived {
        pages: analysed_pages(bytes),
        colour: rgb,
        size_pt: contains(bytes, &[0xC0, 0x02, 0xF8, 0x25]).then_some(A4),
        dominant: Vec::new(),
        pixels: None,
    }
}

/// PCL 5: a reset, raster graphics, colour by the CMY planes (`ESC*r-3U`) or a
/// colour palette configured (`ESC*v6W`), A4 by `ESC&l26A`; pages by the analyser.
pub fn pcl5(bytes: &[u8]) -> Arrived {
    assert!(
        bytes.starts_with(b"\x1bE") || bytes.starts_with(b"\x1b%-12345X"),
        "no PCL reset or UEL at the start"
    );
    assert!(contains(bytes, b"\x1b*r"), "no raster graphics");
    let colour = contains(bytes, b"\x1b*r-3U")
        || contains(bytes, b"\x1b*r3U")
        || contains(bytes, b"\x1b*v6W");
    Arrived {
        pages: analysed_pages(bytes),
        colour,
        size_pt: contains(bytes, b"\x1b&l26A").then_some(A4),
        dominant: Vec::new(),
        pixels: None,
    }
}
