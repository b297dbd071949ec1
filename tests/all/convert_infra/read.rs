//! Independent readers of what an output device fetched: cups-filters' `rastertopdf`
//! with poppler's `pdfinfo`/`pdftoppm` for PWG raster, and a Python decoder of Apple
//! raster (URF) written from CUPS's cups/raster-stream.c. None of PrintPark's code.

use std::path::Path;
use std::process::Command;

/// What `pdfinfo` and `pdftoppm` say of PWG raster bytes once cups-filters'
/// `rastertopdf` made a PDF of them: pages, page size in points, and page 1's pixels.
pub(super) struct CupsRead {
    pub(super) pages: u32,
    pub(super) size: (f64, f64),
    pub(super) page1: Ppm,
    /// `pdfimages -list`'s colour space of each page's image (`gray`, `rgb`, `icc` …).
    pub(super) image_colours: Vec<String>,
}

fn run(command: &mut Command) -> Vec<u8> {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

pub(super) fn read_pwg_with_cups(raster: &[u8], dir: &Path) -> CupsRead {
    let input = dir.join("fetched.pwg");
    std::fs::write(&input, raster).unwrap();
    let pdf = run(Command::new("/usr/lib/cups/filter/rastertopdf")
        .args(["1", "ann", "fetched", "1", ""])
        .arg(&input));
    let pdf_path = dir.join("fetched.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let info = String::from_utf8(run(Command::new("pdfinfo").arg(&pdf_path))).unwrap();
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("pdfinfo says no {name}\n{info}"))
            .to_owned()
    };
    let pages = field("Pages:").parse().unwrap();
    // "595.2 x 841.92 pts (A4)"
    let size_text = field("Page size:");
    let mut numbers = size_text
        .split_whitespace()
        .filter_map(|w| w.parse::<f64>().ok());
    let size = (numbers.next().unwrap(), numbers.next().unwrap());
    let page1 = run(Command::new("pdftoppm")
        .args(["-r", "20", "-f", "1", "-l", "1"])
        .arg(&pdf_path));
    let images =
        String::from_utf8(run(Command::new("pdfimages").arg("-list").arg(&pdf_path))).unwrap();
    // Two header lines, then "page num type width height color …".
    let image_colours = images
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().nth(5).map(str::to_owned))
        .collect();
    CupsRead {
        pages,
        size,
        page1: Ppm::parse(&page1),
        image_colours,
    }
}

/// A binary PPM (P6), as pdftoppm writes it.
pub(super) struct Ppm {
    pub(super) pixels: Vec<[u8; 3]>,
}

impl Ppm {
    fn parse(bytes: &[u8]) -> Self {
        // "P6\n<w> <h>\n255\n" then RGB triples.
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            let start = at;
            while !bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
        }
        assert_eq!(fields[0], "P6");
        let body = &bytes[at + 1..];
        Ppm {
            pixels: body.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
        }
    }

    /// Pixels clearly red (the fixture's rectangle).
    pub(super) fn red(&self) -> usize {
        self.pixels
            .iter()
            .filter(|[r, g, b]| *r > 150 && *g < 110 && *b < 110)
            .count()
    }
}

/// Decodes Apple raster (URF) as CUPS's cups/raster-stream.c reads it: `UNIRAST\0`, a
/// big-endian page count, then per page a 32-byte header (bits per pixel, colour space
/// 0 sGray / 1 sRGB, width at 12, height at 16, resolution at 20) and PackBits-like
/// lines (a line-repeat byte; runs 0..127 repeat one pixel n+1 times, 129..255 are
/// 257-n literal pixels, 128 fills the rest of the line with white). Prints one JSON
/// object: the declared and decoded page counts and each page's header and whether a
/// pixel has colour.
const URF_DECODER: &str = r#"
import json, struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'UNIRAST\0', d[:8]
declared = struct.unpack('>I', d[8:12])[0]
at, pages = 12, []
while at < len(d):
    h = d[at:at + 32]; at += 32
    bpp, cs = h[0], h[1]
    width, height, dpi = struct.unpack('>III', h[12:24])
    px = bpp // 8
    coloured = False
    y = 0
    while y < height:
        repeat = d[at] + 1; at += 1
        x = 0
        while x < width:
            n = d[at]; at += 1
            if n == 128:
                x = width
            elif n < 128:
                p = d[at:at + px]; at += px
                if px == 3 and not coloured and (abs(p[0] - p[1]) > 12 or abs(p[1] - p[2]) > 12):
                    coloured = True
                x += n + 1
            else:
                count = 257 - n
                if px == 3 and not coloured:
                    for i in range(count):
                        p = d[at + i * 3:at + i * 3 + 3]
                        if abs(p[0] - p[1]) > 12 or abs(p[1] - p[2]) > 12:
                            coloured = True
                            break
                at += count * px
                x += count
        y += repeat
    pages.append({'bpp': bpp, 'cs': cs, 'width': width, 'height': height, 'dpi': dpi, 'coloured': coloured})
print(json.dumps({'declared': declared, 'pages': pages}))
"#;

pub(super) fn read_urf_with_python(urf: &[u8], dir: &Path) -> serde_json::Value {
    let input = dir.join("fetched.urf");
    std::fs::write(&input, urf).unwrap();
    let out = run(Command::new("python3")
        .arg("-c")
        .arg(URF_DECODER)
        .arg(&input));
    serde_json::from_slice(&out).unwrap()
}

/// A4 at `dpi`, in pixels, within a pixel of rounding.
pub(super) fn is_a4(width: u64, height: u64, dpi: u64) -> bool {
    let w = 210.0 / 25.4 * dpi as f64;
    let h = 297.0 / 25.4 * dpi as f64;
    (width as f64 - w).abs() <= 2.0 && (height as f64 - h).abs() <= 2.0
}
