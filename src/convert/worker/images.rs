//! JPEG and PNG into a one-page PDF. JPEG data goes in as it is (`/DCTDecode`, no
//! re-encoding); PNG is decoded (palette, grey, 16-bit, alpha composited on white)
//! and written as a Flate image. Both are hostile input: sizes are checked before
//! anything is allocated.

use std::io::Read;

use super::input::MemFile;
use super::pdf::{Encoding, Image, MAX_PIXELS_BYTES, PdfWriter, check_size, page_size};

/// JPEG → PDF.
pub fn jpeg_to_pdf(mut document: MemFile) -> Result<MemFile, String> {
    let facts = jpeg_facts(&mut document)?;
    let (page_width, page_height) = page_size(facts.width, facts.height, facts.dpi);
    let image = Image {
        width: facts.width,
        height: facts.height,
        components: facts.components,
        bits: 8,
        encoding: Encoding::Dct,
        inverted: facts.adobe && facts.components == 4,
        page_width,
        page_height,
    };
    document.rewind()?;
    let pdf = MemFile::new("printpark-normalised")?;
    let mut writer =
        PdfWriter::new(std::io::BufWriter::new(pdf.file.try_clone().map_err(io)?)).map_err(io)?;
    writer
        .page(&image, |out| {
            std::io::copy(&mut document.file, out).map(|_| ())
        })
        .map_err(io)?;
    writer.finish().map_err(io)?;
    finished(pdf)
}

fn io(e: std::io::Error) -> String {
    format!("writing the PDF: {e}")
}

fn finished(mut pdf: MemFile) -> Result<MemFile, String> {
    pdf.rewind()?;
    Ok(pdf)
}

struct JpegFacts {
    width: u32,
    height: u32,
    components: u8,
    dpi: Option<(f64, f64)>,
    /// An Adobe APP14 marker: CMYK data is stored inverted.
    adobe: bool,
}

/// Walks the JPEG's markers up to the frame header (SOFn).
fn jpeg_facts(document: &mut MemFile) -> Result<JpegFacts, String> {
    let bad = |why: &str| format!("the JPEG could not be read ({why})");
    let mut r = std::io::BufReader::new(&mut document.file);
    let byte = |r: &mut std::io::BufReader<&mut std::fs::File>| -> Result<u8, String> {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).map_err(|_| bad("cut short"))?;
        Ok(b[0])
    };
    if byte(&mut r)? != 0xFF || byte(&mut r)? != 0xD8 {
        return Err(bad("no start marker"));
    }
    let mut dpi = None;
    let mut adobe = false;
    for _ in 0..10_000 {
        // Fill bytes (0xFF) may precede a marker.
        let mut marker = byte(&mut r)?;
        if marker != 0xFF {
            return Err(bad("no marker where one belongs"));
        }
        while marker == 0xFF {
            marker = byte(&mut r)?;
        }
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue;
        }
        let len = u16::from_be_bytes([byte(&mut r)?, byte(&mut r)?]);
        let len = usize::from(len)
            .checked_sub(2)
            .ok_or_else(|| bad("bad segment length"))?;
        let mut segment = vec![0u8; len];
        r.read_exact(&mut segment).map_err(|_| bad("cut short"))?;
        match marker {
            // SOF0..SOF15 but DHT (C4), JPG (C8), DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if segment.len() < 6 {
                    return Err(bad("short frame header"));
                }
                if segment[0] != 8 {
                    return Err(bad("only 8-bit JPEG is printed"));
                }
                let height = u32::from(u16::from_be_bytes([segment[1], segment[2]]));
                let width = u32::from(u16::from_be_bytes([segment[3], segment[4]]));
                let components = segment[5];
                if width == 0 || height == 0 || !matches!(components, 1 | 3 | 4) {
                    return Err(bad("unsupported frame"));
                }
                return Ok(JpegFacts {
                    width,
                    height,
                    components,
                    dpi,
                    adobe,
                });
            }
            // JFIF: units (1 dpi, 2 dots per cm), X and Y density.
            0xE0 if segment.len() >= 12 && segment.starts_with(b"JFIF\0") => {
                let x = f64::from(u16::from_be_bytes([segment[8], segment[9]]));
                let y = f64::from(u16::from_be_bytes([segment[10], segment[11]]));
                dpi = match segment[7] {
                    1 => Some((x, y)),
                    2 => Some((x * 2.54, y * 2.54)),
                    _ => None,
                };
            }
            0xEE if segment.starts_with(b"Adobe") => adobe = true,
            0xD9 | 0xDA => return Err(bad("no frame header before the image data")),
            _ => {}
        }
    }
    Err(bad("too many markers"))
}

/// PNG → PDF.
pub fn png_to_pdf(document: MemFile) -> Result<MemFile, String> {
    let bad = |e: &dyn std::fmt::Display| format!("the PNG could not be read ({e})");
    let mut decoder = png::Decoder::new_with_limits(
        std::io::BufReader::new(&document.file),
        png::Limits {
            bytes: MAX_PIXELS_BYTES as usize,
        },
    );
    // Palette and low bit depths to 8-bit samples, transparency to alpha, 16 bits
    // down to 8.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let info = decoder.read_header_info().map_err(|e| bad(&e))?;
    let (width, height) = (info.width, info.height);
    let dpi = info.pixel_dims.and_then(|d| {
        (d.unit == png::Unit::Meter)
            .then_some((f64::from(d.xppu) * 0.0254, f64::from(d.yppu) * 0.0254))
    });
    check_size(u64::from(width), u64::from(height), 4)?;
    let mut reader = decoder.read_info().map_err(|e| bad(&e))?;
    let (color, _) = reader.output_color_type();
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| "the PNG is too large".to_owned())?;
    let mut pixels = vec![0u8; size];
    let frame = reader.next_frame(&mut pixels).map_err(|e| bad(&e))?;
    let stride = frame.line_size;
    let (channels, components) = match color {
        png::ColorType::Grayscale => (1usize, 1u8),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => return Err(bad(&"palette left unexpanded")),
    };
    let (page_width, page_height) = page_size(width, height, dpi);
    let image = Image {
        width,
        height,
        components,
        bits: 8,
        encoding: Encoding::Flate,
        inverted: false,
        page_width,
        page_height,
    };
    let pdf = MemFile::new("printpark-normalised")?;
    let mut writer =
        PdfWriter::new(std::io::BufWriter::new(pdf.file.try_clone().map_err(io)?)).map_err(io)?;
    writer
        .page(&image, |out| {
            let mut row = Vec::with_capacity(width as usize * 3);
            for line in pixels.chunks(stride).take(height as usize) {
                row.clear();
                for px in line.chunks_exact(channels) {
                    match channels {
                        2 => row.push(on_white(px[0], px[1])),
                        4 => row.extend(px[..3].iter().map(|c| on_white(*c, px[3]))),
                        _ => row.extend_from_slice(px),
                    }
                }
                out.write_all(&row)?;
            }
            Ok(())
        })
        .map_err(io)?;
    writer.finish().map_err(io)?;
    finished(pdf)
}

/// A sample with alpha, composited on white paper.
fn on_white(c: u8, alpha: u8) -> u8 {
    let (c, a) = (u32::from(c), u32::from(alpha));
    ((c * a + 255 * (255 - a) + 127) / 255) as u8
}

#[cfg(test)]
mod tests {
    use super::on_white;

    #[test]
    fn alpha_composites_on_white() {
        assert_eq!(on_white(0, 255), 0);
        assert_eq!(on_white(0, 0), 255);
        assert_eq!(on_white(0, 128), 127);
    }
}
