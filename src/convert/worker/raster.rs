//! PWG raster (PWG 5102.4) and Apple raster (URF) decoded page by page into a PDF
//! with one Flate image per page; and their pages counted. Every number from a
//! header is checked (sizes, products, against [`MAX_PIXELS_BYTES`]) before it is
//! used: these are hostile inputs, and a bomb ends in a clear error.
//!
//! Both compress each line the same way: a line-repeat byte (the line appears n+1
//! times), then runs until the line is full: `0..=127` repeats the next pixel n+1
//! times, `129..=255` copies 257-n pixels, 128 fills the rest of the line with white.
//! The unit is a pixel (bits per pixel / 8 bytes), or a byte for 1-bit rasters.

use std::io::{BufReader, Read, Write};

use super::input::MemFile;
use super::pdf::{Encoding, Image, MAX_PIXELS_BYTES, MAX_SIDE, PdfWriter};
use crate::convert::Format;

/// Pages of a raster document at most.
const MAX_PAGES: u32 = 10_000;
/// The PDF made of a raster document at most (below the worker's file size limit).
const MAX_PDF: u64 = 640 * 1024 * 1024;

/// PWG raster or URF → PDF.
pub fn to_pdf(from: Format, document: MemFile) -> Result<MemFile, String> {
    let mut pdf = MemFile::new("printpark-normalised")?;
    let out = std::io::BufWriter::new(
        pdf.file
            .try_clone()
            .map_err(|e| format!("in-memory file: {e}"))?,
    );
    let mut writer = PdfWriter::new(out).map_err(|e| format!("writing the PDF: {e}"))?;
    walk(from, &document, Some(&mut writer))?;
    writer
        .finish()
        .map_err(|e| format!("writing the PDF: {e}"))?;
    pdf.rewind()?;
    Ok(pdf)
}

/// Pages of a PWG raster or URF document, every line decoded (a lying header
/// cannot inflate the count).
pub fn count(from: Format, document: MemFile) -> Result<u32, String> {
    walk::<std::io::Sink>(from, &document, None)
}

/// One page's layout, from its header.
#[derive(Debug, Clone, Copy)]
struct Page {
    width: u64,
    height: u64,
    /// Bytes of one line as decoded.
    line_bytes: u64,
    /// Bytes of one compression unit (a pixel, or one byte of a 1-bit line).
    unit: u64,
    components: u8,
    bits: u8,
    /// White is 0 (black-is-1 spaces: K, CMYK).
    white_is_zero: bool,
    dpi: (f64, f64),
}

fn be32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

/// A PWG page header: `cupsWidth` 372, `cupsHeight` 376, `cupsBitsPerColor` 384,
/// `cupsBitsPerPixel` 388, `cupsBytesPerLine` 392, `cupsColorOrder` 396,
/// `cupsColorSpace` 400, `HWResolution` 276/280.
fn pwg_page(h: &[u8]) -> Result<Page, String> {
    let width = be32(h, 372);
    let height = be32(h, 376);
    let bits = be32(h, 384);
    let bpp = be32(h, 388);
    let line_bytes = be32(h, 392);
    let order = be32(h, 396);
    let space = be32(h, 400);
    if order != 0 {
        return Err("PWG raster pages in planes are not printed (only chunky)".into());
    }
    let (components, white_is_zero) = match space {
        0 | 18 => (1u8, false),
        3 => (1, true),
        1 | 19 | 20 => (3, false),
        6 => (4, true),
        other => return Err(format!("PWG raster colour space {other} is not printed")),
    };
    page(
        width,
        height,
        bits,
        bpp,
        components,
        white_is_zero,
        (be32(h, 276), be32(h, 280)),
    )
    .and_then(|p| {
        if p.line_bytes == line_bytes {
            Ok(p)
        } else {
            Err("a PWG raster page header contradicts itself (bytes per line)".into())
        }
    })
}

/// A URF page header: bits per pixel 0, colour space 1, width 12, height 16, dpi 20.
fn urf_page(h: &[u8]) -> Result<Page, String> {
    let bpp = u64::from(h[0]);
    let (components, white_is_zero) = match h[1] {
        0 | 4 => (1u8, false),
        1 | 3 | 5 => (3, false),
        6 => (4, true),
        other => return Err(format!("Apple raster colour space {other} is not printed")),
    };
    let bits = bpp / u64::from(components);
    let dpi = be32(h, 20);
    page(
        be32(h, 12),
        be32(h, 16),
        bits,
        bpp,
        components,
        white_is_zero,
        (dpi, dpi),
    )
}

fn page(
    width: u64,
    height: u64,
    bits: u64,
    bpp: u64,
    components: u8,
    white_is_zero: bool,
    dpi: (u64, u64),
) -> Result<Page, String> {
    if !matches!(bits, 1 | 8 | 16) || bpp != bits * u64::from(components) {
        return Err(format!(
            "{bpp} bits per pixel in {components} colours are not printed"
        ));
    }
    if bits == 1 && components != 1 {
        return Err("1-bit colour rasters are not printed".into());
    }
    let line_bytes = width
        .checked_mul(bpp)
        .map(|b| b.div_ceil(8))
        .ok_or("the raster's width is not printable")?;
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "the page's size is not printable ({width} x {height} pixels)"
        ));
    }
    if line_bytes
        .checked_mul(height)
        .is_none_or(|b| b > MAX_PIXELS_BYTES)
    {
        return Err(format!(
            "the page is too large to convert ({width} x {height} pixels; at most {} MiB decoded per page)",
            MAX_PIXELS_BYTES / (1024 * 1024)
        ));
    }
    let unit = (bpp / 8).max(1);
    // A missing or absurd resolution reads as 300 dpi.
    let fix = |d: u64| {
        if (10..=10_000).contains(&d) {
            d as f64
        } else {
            300.0
        }
    };
    Ok(Page {
        width,
        height,
        line_bytes,
        unit,
        components,
        bits: bits as u8,
        white_is_zero,
        dpi: (fix(dpi.0), fix(dpi.1)),
    })
}

/// Reads the document page by page; writes each into `pdf` when given. The page count.
fn walk<W: Write>(
    from: Format,
    document: &MemFile,
    mut pdf: Option<&mut PdfWriter<W>>,
) -> Result<u32, String> {
    let mut r = BufReader::with_capacity(256 * 1024, &document.file);
    let (header_len, name) = match from {
        Format::PwgRaster => {
            let mut sync = [0u8; 4];
            r.read_exact(&mut sync)
                .map_err(|_| "not a PWG raster document (too short)".to_owned())?;
            if &sync != b"RaS2" {
                return Err("not a PWG raster document (no RaS2 sync word)".into());
            }
            (1796usize, "PWG raster")
        }
        _ => {
            let mut head = [0u8; 12];
            r.read_exact(&mut head)
                .map_err(|_| "not an Apple raster document (too short)".to_owned())?;
            if &head[..8] != b"UNIRAST\0" {
                return Err("not an Apple raster document (no UNIRAST header)".into());
            }
            (32, "Apple raster")
        }
    };
    let mut header = vec![0u8; header_len];
    let mut pages = 0u32;
    loop {
        // A clean end is the end of the file where a page header would start.
        match read_full(&mut r, &mut header) {
            Ok(0) => break,
            Ok(n) if n == header_len => {}
            _ => {
                return Err(format!(
                    "page {} of the {name} document is cut short",
                    pages + 1
                ));
            }
        }
        pages += 1;
        if pages > MAX_PAGES {
            return Err(format!(
                "the {name} document has more than {MAX_PAGES} pages"
            ));
        }
        let layout = if from == Format::PwgRaster {
            pwg_page(&header)
        } else {
            urf_page(&header)
        }
        .map_err(|e| format!("page {pages}: {e}"))?;
        let mut decode = |out: &mut dyn Write| decode_page(&mut r, &layout, out);
        match pdf.as_deref_mut() {
            Some(writer) => {
                let image = Image {
                    width: layout.width as u32,
                    height: layout.height as u32,
                    components: layout.components,
                    bits: layout.bits,
                    encoding: Encoding::Flate,
                    inverted: layout.white_is_zero && layout.components == 1,
                    page_width: layout.width as f64 * 72.0 / layout.dpi.0,
                    page_height: layout.height as f64 * 72.0 / layout.dpi.1,
                };
                writer.page(&image, |out| decode(out))
            }
            None => decode(&mut std::io::sink()),
        }
        .map_err(|e| format!("page {pages} of the {name} document could not be read: {e}"))?;
        if pdf.as_ref().is_some_and(|w| w.written() > MAX_PDF) {
            return Err(format!("the {name} document is too large to convert"));
        }
    }
    if pages == 0 {
        return Err(format!("the {name} document has no pages"));
    }
    Ok(pages)
}

/// Reads until `buf` is full or the input ends; the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Decodes one page's lines into `out`, one line in memory at a time.
fn decode_page(r: &mut impl Read, p: &Page, out: &mut dyn Write) -> std::io::Result<()> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
    let byte = |r: &mut dyn Read| -> std::io::Result<u8> {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).map_err(|_| bad("cut short"))?;
        Ok(b[0])
    };
    let line_len = p.line_bytes as usize;
    let unit = p.unit as usize;
    let white = if p.white_is_zero { 0u8 } else { 0xFF };
    let mut line = vec![white; line_len];
    let mut pixel = vec![0u8; unit];
    let mut y = 0u64;
    while y < p.height {
        let repeat = u64::from(byte(r)?) + 1;
        let mut x = 0usize;
        while x < line_len {
            let op = byte(r)?;
            if op == 128 {
                line[x..].fill(white);
                x = line_len;
            } else if op < 128 {
                let n = (usize::from(op) + 1) * unit;
                r.read_exact(&mut pixel).map_err(|_| bad("cut short"))?;
                let end = x
                    .checked_add(n)
                    .filter(|e| *e <= line_len)
                    .ok_or_else(|| bad("a run passes the line's end"))?;
                for chunk in line[x..end].chunks_exact_mut(unit) {
                    chunk.copy_from_slice(&pixel);
                }
                x = end;
            } else {
                let n = (257 - usize::from(op)) * unit;
                let end = x
                    .checked_add(n)
                    .filter(|e| *e <= line_len)
                    .ok_or_else(|| bad("a run passes the line's end"))?;
                r.read_exact(&mut line[x..end])
                    .map_err(|_| bad("cut short"))?;
                x = end;
            }
        }
        let times = repeat.min(p.height - y);
        for _ in 0..times {
            out.write_all(&line)?;
        }
        y += times;
    }
    Ok(())
}
