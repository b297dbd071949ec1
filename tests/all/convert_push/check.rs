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

/// Each page's dominant colour, from Ghostscript rendering it at 20 dpi (`ppmraw`):
/// the channel that is highest in most pixels that are not grey; 'k' when none.
/// (inkcov gives the area each ink covers, not how much: a green square covers as
/// much cyan as magenta once black is generated, so it cannot name the colour.)
fn rendered_dominant(path: &Path) -> Vec<char> {
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("page-%04d.ppm");
    run(Command::new("gs")
        .args([
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-dSAFER",
            "-sDEVICE=ppmraw",
            "-r20",
        ])
        .arg(format!("-sOutputFile={}", pattern.display()))
        .arg(path));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let ppm = std::fs::read(f).unwrap();
            // "P6\n<w> <h>\n255\n": the pixels follow the fourth token.
            let mut fields = 0;
            let mut at = 0;
            while fields < 4 {
                while ppm[at].is_ascii_whitespace() {
                    at += 1;
                }
                while !ppm[at].is_ascii_whitespace() {
                    at += 1;
                }
                fields += 1;
            }
            let mut tally = [0usize; 3];
            for px in ppm[at + 1..].chunks_exact(3) {
                let (max, min) = (*px.iter().max().unwrap(), *px.iter().min().unwrap());
                if max - min > 24 {
                    tally[px.iter().position(|v| *v == max).unwrap()] += 1;
                }
            }
            let best = (0..3).max_by_key(|i| tally[*i]).unwrap();
            if tally[best] == 0 {
                'k'
            } else {
                ['r', 'g', 'b'][best]
            }
        })
        .collect()
}

/// Colour by inkcov: any cyan, magenta or yellow ink at all.
fn inked_colour(pages: &[[f64; 4]]) -> bool {
    pages.iter().any(|p| p[..3].iter().any(|v| *v > 0.001))
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
    let (colour, dominant) = (inked_colour(&ink), rendered_dominant(path));
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
    let as_pdf = pdf_file(&path);
    // Colour by the pixels (inkcov on rastertopdf's images does not tell grey from
    // colour reliably), cross-checked against rastertopdf's page count.
    let pages = decode_raster(bytes);
    assert_eq!(
        pages.len() as u32,
        as_pdf.pages,
        "rastertopdf and the decoder disagree"
    );
    let dominant: Vec<char> = pages.iter().map(|p| p[5].chars().next().unwrap()).collect();
    Arrived {
        colour: dominant.iter().any(|d| *d != 'k'),
        dominant,
        ..as_pdf
    }
}

/// Apple raster and PWG raster, decoded by Python from the format descriptions: the
/// file header, each page's header (bits per pixel, colour space, size, resolution)
/// and its run-length coded lines (the same scheme in both), where colour is looked
/// for in every pixel. Prints one line per page: bpp, colour space, width, height,
/// dpi, dominant colour ('k' when no pixel has colour).
const RASTER_DECODER: &str = r#"
import sys, struct
d = open(sys.argv[1], 'rb').read()
if d[:8] == b'UNIRAST\0':
    kind, pos = 'urf', 12
else:
    assert d[:4] == b'RaS2', 'neither URF nor PWG'
    kind, pos = 'pwg', 4
while pos < len(d):
    if kind == 'urf':
        bpp, cs = d[pos], d[pos + 1]
        w, h, dpi = struct.unpack('>III', d[pos + 12:pos + 24])
        pos += 32
    else:
        head = d[pos:pos + 1796]
        dpi = struct.unpack('>I', head[276:280])[0]
        w, h = struct.unpack('>II', head[372:380])
        bpp = struct.unpack('>I', head[388:392])[0]
        cs = struct.unpack('>I', head[400:404])[0]
        pos += 1796
    size = bpp // 8
    assert size in (1, 2, 3, 4, 6, 8), 'bits per pixel %d' % bpp
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
                if size == 3 and max(px) - min(px) > 24:
                    tally[px.index(max(px))] += n * repeat
                x += n
            else:
                n = 257 - code
                if size == 3:
                    for i in range(n):
                        px = d[pos + i * 3:pos + i * 3 + 3]
                        if max(px) - min(px) > 24:
                            tally[px.index(max(px))] += repeat
                pos += n * size
                x += n
        y += repeat
    dom = 'k' if max(tally) == 0 else 'rgb'[tally.index(max(tally))]
    print(bpp, cs, w, h, dpi, dom)
"#;

/// Pages of a URF or PWG raster as the Python decoder reads them.
fn decode_raster(bytes: &[u8]) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(dir.path(), "in.raster", bytes);
    let out = run(Command::new("python3")
        .args(["-c", RASTER_DECODER])
        .arg(&path));
    let pages: Vec<Vec<String>> = out
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    assert!(!pages.is_empty(), "no page in the raster");
    pages
}

pub fn urf(bytes: &[u8]) -> Arrived {
    let pages = decode_raster(bytes);
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
    let (colour, dominant) = (inked_colour(&inkcov(&pdf)), rendered_dominant(&pdf));
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
    let (colour, dominant) = (inked_colour(&ink), rendered_dominant(&path));
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
/// colour palette configured (`ESC*v6W`), A4 by `ESC&l26A` (or `26a`, combined); pages by
/// the analyser.
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
        // Page size 26 (A4), alone or first of combined `ESC&l` parameters.
        size_pt: (contains(bytes, b"\x1b&l26A") || contains(bytes, b"\x1b&l26a")).then_some(A4),
        dominant: Vec::new(),
        pixels: None,
    }
}
