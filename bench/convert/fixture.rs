//! The bench's document, made at bench time: an A4 PostScript program written here
//! (text pages in Times and Helvetica; every third page a 1500×1000 photo-like colour
//! image with a caption; every third page from the first a ruled table with a coloured
//! header row) distilled to PDF by Ghostscript's `pdfwrite`, as office software would
//! produce it (the images come out JPEG-compressed, about 75 KB each). Deterministic:
//! the same page count gives the same document.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const WORDS: &[&str] = &[
    "print", "park", "release", "queue", "badge", "printer", "document", "secure", "page",
    "raster", "colour", "toner", "office", "station", "policy", "audit", "held", "job", "network",
    "sealed", "the", "a", "of", "and", "to", "in", "is", "for", "with", "on", "that", "by",
    "every", "from", "each", "when", "its", "not", "server", "worker", "format", "delivery",
];

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// A photo-like RGB image: a sky-to-ground gradient, soft colour blobs, a fine
/// texture and pixel noise (so JPEG has real work, unlike a flat test card).
fn photo(w: usize, h: usize, seed: u64, out: &mut Vec<u8>) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let unit = |x: &mut u64| (xorshift(x) % 10_000) as f32 / 10_000.0;
    let blobs: Vec<(f32, f32, f32, [f32; 3])> = (0..6)
        .map(|_| {
            (
                unit(&mut x) * w as f32,
                unit(&mut x) * h as f32,
                80.0 + unit(&mut x) * 300.0,
                [
                    unit(&mut x) * 200.0 - 100.0,
                    unit(&mut x) * 200.0 - 100.0,
                    unit(&mut x) * 200.0 - 100.0,
                ],
            )
        })
        .collect();
    let phase = (seed % 97) as f32 / 10.0;
    out.clear();
    out.reserve(w * h * 3);
    for j in 0..h {
        for i in 0..w {
            let (fi, fj) = (i as f32, j as f32);
            let sky = fj / h as f32;
            let texture = 18.0 * (fi * 0.043 + fj * 0.011).sin() * (fj * 0.057).cos();
            let mut c = [
                90.0 + 120.0 * (1.0 - sky) + texture,
                120.0 + 80.0 * (fi / w as f32 * 3.0 + phase).sin().abs(),
                200.0 * (1.0 - sky) + 40.0 - texture,
            ];
            for (bx, by, br, col) in &blobs {
                let d2 = ((fi - bx).powi(2) + (fj - by).powi(2)) / (br * br);
                if d2 < 4.0 {
                    let k = (-d2).exp();
                    for n in 0..3 {
                        c[n] += col[n] * k;
                    }
                }
            }
            let noise = (xorshift(&mut x) % 25) as f32 - 12.0;
            for v in c {
                out.push((v + noise).clamp(0.0, 255.0) as u8);
            }
        }
    }
}

fn ps_string(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('(', "\\(")
        .replace(')', "\\)")
}

fn words(x: &mut u64, n: usize) -> String {
    (0..n)
        .map(|_| WORDS[(xorshift(x) % WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn postscript(pages: u32, path: &Path) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        f,
        "%!PS-Adobe-3.0\n%%Pages: {pages}\n%%BoundingBox: 0 0 595 842\n%%EndComments\n\
         << /PageSize [595 842] >> setpagedevice"
    )?;
    let mut x = 0x1234_5678_9ABC_DEF1u64;
    let mut image = Vec::new();
    for p in 1..=pages {
        writeln!(f, "%%Page: {p} {p}")?;
        let title = ps_string(&format!("Section {p}: {}", words(&mut x, 4)));
        writeln!(
            f,
            "/Helvetica-Bold findfont 16 scalefont setfont 56 790 moveto ({title}) show"
        )?;
        let mut y = 760;
        if p % 3 == 0 {
            photo(1500, 1000, u64::from(p), &mut image);
            writeln!(
                f,
                "gsave 56 400 translate 483 322 scale /DeviceRGB setcolorspace\n\
                 << /ImageType 1 /Width 1500 /Height 1000 /BitsPerComponent 8 \
                 /Decode [0 1 0 1 0 1] /ImageMatrix [1500 0 0 -1000 0 1000] \
                 /DataSource currentfile >> image"
            )?;
            f.write_all(&image)?;
            let caption = ps_string(&words(&mut x, 8));
            writeln!(
                f,
                "\ngrestore\n/Helvetica-Oblique findfont 9 scalefont setfont \
                 56 386 moveto (Figure {p}: {caption}) show"
            )?;
            y = 360;
        } else if p % 3 == 1 {
            writeln!(
                f,
                "gsave 0.85 0.9 1 setrgbcolor 56 600 483 18 rectfill 0 setgray 0.5 setlinewidth"
            )?;
            for r in 0..8 {
                let ry = 618 - r * 18;
                writeln!(f, "56 {ry} moveto 539 {ry} lineto stroke")?;
            }
            for c in 0..5 {
                let cx = 56 + c * 120;
                writeln!(f, "{cx} 474 moveto {cx} 618 lineto stroke")?;
            }
            writeln!(f, "grestore")?;
        }
        writeln!(f, "/Times-Roman findfont 10 scalefont setfont")?;
        while y > 60 {
            if !(p % 3 == 1 && y < 630 && y > 465) {
                let line = ps_string(&words(&mut x, 14));
                writeln!(f, "56 {y} moveto ({line}) show")?;
            }
            y -= 12;
        }
        writeln!(
            f,
            "/Helvetica findfont 8 scalefont setfont 290 30 moveto ({p}) show showpage"
        )?;
    }
    writeln!(f, "%%EOF")?;
    f.flush()
}

/// `dir/mixed-N.pdf`, made from PostScript by Ghostscript; its page count checked with
/// poppler's `pdfinfo`.
pub fn make_pdf(dir: &Path, pages: u32) -> Result<PathBuf, String> {
    let ps = dir.join(format!("mixed-{pages}.ps"));
    let pdf = dir.join(format!("mixed-{pages}.pdf"));
    postscript(pages, &ps).map_err(|e| format!("writing {}: {e}", ps.display()))?;
    let out = Command::new("gs")
        .args(["-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite"])
        .arg(format!("-sOutputFile={}", pdf.display()))
        .arg(&ps)
        .output()
        .map_err(|e| format!("gs (Debian ghostscript): {e}"))?;
    let _ = std::fs::remove_file(&ps);
    if !out.status.success() {
        return Err(format!(
            "gs pdfwrite failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let info = Command::new("pdfinfo")
        .arg(&pdf)
        .output()
        .map_err(|e| format!("pdfinfo (Debian poppler-utils): {e}"))?;
    let text = String::from_utf8_lossy(&info.stdout);
    let counted = text
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|v| v.trim().parse::<u32>().ok());
    if counted != Some(pages) {
        return Err(format!(
            "pdfinfo counts {counted:?} pages in {}",
            pdf.display()
        ));
    }
    Ok(pdf)
}
