//! Independent checks of converted output: cups-filters' `rastertopdf`, poppler's
//! `pdfinfo`, Ghostscript's `inkcov`, a small Python URF reader, byte-level structure
//! checks for PCL — and the project's own PCL analyser only beside them.

use std::path::Path;
use std::process::Command;

/// Per page, whether it shows colour: the file rendered to RGB at 20 dpi by
/// Ghostscript (`ppmraw`), a page is colour when any pixel's channels differ by more
/// than 24 (colour-managed grey stays within a few steps).
pub fn rgb_colour(file: &Path) -> Vec<bool> {
    let out = Command::new("gs")
        .args([
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-r20",
            "-o",
            "-",
            "-sDEVICE=ppmraw",
        ])
        .arg(file)
        .output()
        .expect("gs");
    assert!(out.status.success(), "ppmraw of {}", file.display());
    let d = out.stdout;
    let mut pages = Vec::new();
    let mut at = 0;
    while at < d.len() {
        // "P6", width, height, maxval, each after whitespace; one byte of whitespace
        // before the samples.
        let mut fields = Vec::new();
        while fields.len() < 4 {
            while d[at].is_ascii_whitespace() {
                at += 1;
            }
            if d[at] == b'#' {
                while d[at] != b'\n' {
                    at += 1;
                }
                continue;
            }
            let start = at;
            while !d[at].is_ascii_whitespace() {
                at += 1;
            }
            fields.push(String::from_utf8_lossy(&d[start..at]).into_owned());
        }
        at += 1;
        assert_eq!(fields[0], "P6");
        let w: usize = fields[1].parse().unwrap();
        let h: usize = fields[2].parse().unwrap();
        let samples = &d[at..at + w * h * 3];
        at += w * h * 3;
        pages.push(samples.chunks(3).any(|p| {
            let (max, min) = (p.iter().max().unwrap(), p.iter().min().unwrap());
            max - min > 24
        }));
    }
    pages
}

/// Pages and whether any page has colour, from Ghostscript's ink coverage of a PDF
/// or PostScript file (C, M, Y per page).
pub fn inkcov(file: &Path) -> Vec<bool> {
    let out = Command::new("gs")
        .args([
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-r30",
            "-o",
            "-",
            "-sDEVICE=inkcov",
        ])
        .arg(file)
        .output()
        .expect("gs");
    assert!(out.status.success(), "inkcov of {}", file.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("CMYK"))
        .map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .take(3)
                .map(|x| x.parse().unwrap())
                .collect();
            v.iter().any(|x| *x > 0.0005)
        })
        .collect()
}

/// `pdfinfo`'s page count and first page size in points.
pub fn pdfinfo(file: &Path) -> (u32, f64, f64) {
    let out = Command::new("pdfinfo").arg(file).output().expect("pdfinfo");
    assert!(out.status.success(), "pdfinfo {}", file.display());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let pages = field("Pages:").parse().unwrap();
    let size = field("Page size:");
    let mut numbers = size.split_whitespace();
    let w = numbers.next().unwrap().parse().unwrap();
    numbers.next();
    let h = numbers.next().unwrap().parse().unwrap();
    (pages, w, h)
}

/// PWG raster → PDF by cups-filters' `rastertopdf` (CUPS's own filter).
pub fn rastertopdf(pwg: &Path, pdf: &Path) {
    let out = Command::new("/usr/lib/cups/filter/rastertopdf")
        .args(["1", "test", "title", "1", ""])
        .arg(pwg)
        .env("CONTENT_TYPE", "image/pwg-raster")
        .env("FINAL_CONTENT_TYPE", "application/pdf")
        .output()
        .expect("rastertopdf");
    assert!(
        out.status.success(),
        "rastertopdf: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.starts_with(b"%PDF"), "rastertopdf made no PDF");
    std::fs::write(pdf, &out.stdout).unwrap();
}

/// The PWG raster page headers' colour spaces (19 sRGB, 18 sGray), read by hand.
pub fn pwg_color_spaces(bytes: &[u8]) -> Vec<u32> {
    // Only the first page header is at a fixed place; rastertopdf checks the rest.
    assert_eq!(&bytes[..4], b"RaS2", "PWG sync word");
    vec![u32::from_be_bytes(
        bytes[4 + 400..4 + 404].try_into().unwrap(),
    )]
}

/// A URF file read by an independent decoder (Python): pages, and per page
/// (width, height, bits per pixel, colour space, dpi).
pub fn urf(file: &Path) -> Vec<(u32, u32, u32, u32, u32)> {
    let script = r#"
import struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'UNIRAST\0', 'magic'
declared = struct.unpack('>I', d[8:12])[0]
at, pages = 12, []
while at < len(d):
    h = d[at:at+32]; at += 32
    bpp, cs = h[0], h[1]
    w, hh, dpi = struct.unpack('>III', h[12:24])
    unit = max(bpp // 8, 1)
    y = 0
    while y < hh:
        rep = d[at] + 1; at += 1
        x = 0
        while x < w:
            op = d[at]; at += 1
            if op == 128:
                x = w
            elif op < 128:
                at += unit; x += op + 1
            else:
                n = 257 - op; at += n * unit; x += n
        assert x == w, 'line overrun'
        y += rep
    pages.append((w, hh, bpp, cs, dpi))
assert declared == len(pages), 'declared page count %d, found %d' % (declared, len(pages))
for p in pages:
    print(*p)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "URF decoder: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Vec<u32> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            (v[0], v[1], v[2], v[3], v[4])
        })
        .collect()
}

/// Occurrences of `needle` in `hay`.
pub fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// PCL XL: the stream header, and BeginPage/EndPage operators (0x43, 0x44) as the
/// project's own analyser counts them.
pub fn pclxl(bytes: &[u8]) -> i64 {
    assert!(count(bytes, b") HP-PCL XL;") == 1, "PCL XL stream header");
    // The stream header ends its line; the binary stream follows.
    let at = bytes
        .windows(12)
        .position(|w| w == b") HP-PCL XL;")
        .unwrap();
    assert!(
        bytes[at..].iter().take(200).any(|b| *b == b'\n'),
        "PCL XL header line"
    );
    analyse(bytes).pages.expect("PCL XL pages")
}

/// PCL 5: reset (ESC E), raster graphics started (ESC * r ... A) once per page; the
/// project's analyser's page count beside it.
pub fn pcl5(bytes: &[u8]) -> (usize, i64) {
    assert!(
        bytes.starts_with(b"\x1bE") || count(bytes, b"\x1bE") > 0,
        "PCL reset"
    );
    // Start Raster Graphics may be combined with other *r parameters
    // (`ESC*r0f1169t827s1A`): an `ESC*r` group whose final letter is `A`.
    let starts = bytes
        .windows(3)
        .enumerate()
        .filter(|(_, w)| *w == b"\x1b*r")
        .filter(|(i, _)| {
            let rest = &bytes[i + 3..];
            let end = rest.iter().position(|b| {
                !(b.is_ascii_digit()
                    || b.is_ascii_lowercase()
                    || *b == b'.'
                    || *b == b'-'
                    || *b == b'+')
            });
            end.is_some_and(|e| rest[e] == b'A')
        })
        .count();
    let analysis = analyse(bytes);
    (starts, analysis.pages.unwrap_or(-1))
}

fn analyse(bytes: &[u8]) -> printpark::jobs::analyse::Analysis {
    let mut a = printpark::jobs::analyse::Analyzer::default();
    for piece in bytes.chunks(4093) {
        a.feed(piece);
    }
    a.finish()
}

/// A JPEG's (width, height, components) from its frame header.
pub fn jpeg(bytes: &[u8]) -> (u32, u32, u8) {
    assert_eq!(&bytes[..2], b"\xff\xd8", "JPEG magic");
    let mut at = 2;
    loop {
        assert_eq!(bytes[at], 0xFF);
        let marker = bytes[at + 1];
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        if (0xC0..=0xC2).contains(&marker) {
            let s = &bytes[at + 4..];
            let h = u16::from_be_bytes([s[1], s[2]]) as u32;
            let w = u16::from_be_bytes([s[3], s[4]]) as u32;
            return (w, h, s[5]);
        }
        at += 2 + len;
    }
}
