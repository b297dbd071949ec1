//! A minimal PDF writer for documents made of images, one per page: enough for
//! Ghostscript to render JPEG, PNG, PWG raster and Apple raster inputs. Objects are
//! written as they come (an image's data streams through, its length follows as an
//! object of its own), so memory stays flat whatever the page count.

use std::io::{self, Write};

/// Decoded bytes of one page (or one image) at most: a letter page at 600 dpi in
/// 16-bit RGB is about 200 MiB.
pub const MAX_PIXELS_BYTES: u64 = 256 * 1024 * 1024;
/// Width or height in pixels at most.
pub const MAX_SIDE: u64 = 100_000;

/// Refuses images whose decoded size passes the cap.
pub fn check_size(width: u64, height: u64, bytes_per_pixel: u64) -> Result<(), String> {
    let bytes = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(bytes_per_pixel));
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "the image's size is not printable ({width} x {height} pixels)"
        ));
    }
    match bytes {
        Some(b) if b <= MAX_PIXELS_BYTES => Ok(()),
        _ => Err(format!(
            "the image is too large to convert ({width} x {height} pixels; at most {} MiB decoded per page)",
            MAX_PIXELS_BYTES / (1024 * 1024)
        )),
    }
}

/// How an image's data is encoded in the PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JPEG data as it is (`/DCTDecode`).
    Dct,
    /// Raw samples, compressed by the writer (`/FlateDecode`).
    Flate,
}

/// One page's image.
#[derive(Debug, Clone, Copy)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// 1 (grey), 3 (RGB) or 4 (CMYK).
    pub components: u8,
    /// 1, 8 or 16.
    pub bits: u8,
    pub encoding: Encoding,
    /// Samples are inverted (1-bit black-is-1 rasters, Adobe CMYK JPEGs).
    pub inverted: bool,
    /// The page size in points.
    pub page_width: f64,
    pub page_height: f64,
}

pub struct PdfWriter<W: Write> {
    out: W,
    at: u64,
    /// Offset of each object by number (index 0 unused).
    offsets: Vec<u64>,
    pages: Vec<usize>,
}

/// Object numbers fixed in advance.
const CATALOG: usize = 1;
const PAGES: usize = 2;

impl<W: Write> PdfWriter<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let mut w = Self {
            out,
            at: 0,
            offsets: vec![0, 0, 0],
            pages: Vec::new(),
        };
        w.put(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.at += bytes.len() as u64;
        Ok(())
    }

    fn reserve(&mut self) -> usize {
        self.offsets.push(0);
        self.offsets.len() - 1
    }

    fn begin(&mut self, id: usize) -> io::Result<()> {
        self.offsets[id] = self.at;
        self.put(format!("{id} 0 obj\n").as_bytes())
    }

    /// Adds a page showing `image` over the whole page; `write_data` writes the
    /// image's data (JPEG bytes, or raw samples row by row for Flate).
    pub fn page(
        &mut self,
        image: &Image,
        write_data: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let image_id = self.reserve();
        let length_id = self.reserve();
        let content_id = self.reserve();
        let page_id = self.reserve();
        let space = match image.components {
            1 => "/DeviceGray",
            4 => "/DeviceCMYK",
            _ => "/DeviceRGB",
        };
        let filter = match image.encoding {
            Encoding::Dct => "/DCTDecode",
            Encoding::Flate => "/FlateDecode",
        };
        let decode = if image.inverted {
            let pairs = vec!["1 0"; usize::from(image.components)].join(" ");
            format!(" /Decode [{pairs}]")
        } else {
            String::new()
        };
        self.begin(image_id)?;
        self.put(
            format!(
                "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace {space} /BitsPerComponent {} /Filter {filter}{decode} /Length {length_id} 0 R >>\nstream\n",
                image.width, image.height, image.bits
            )
            .as_bytes(),
        )?;
        let start = self.at;
        {
            let mut counter = Counting {
                inner: &mut self.out,
                count: 0,
            };
            match image.encoding {
                Encoding::Dct => write_data(&mut counter)?,
                Encoding::Flate => {
                    let mut z =
                        flate2::write::ZlibEncoder::new(&mut counter, flate2::Compression::fast());
                    write_data(&mut z)?;
                    z.finish()?;
                }
            }
            self.at += counter.count;
        }
        let length = self.at - start;
        self.put(b"\nendstream\nendobj\n")?;
        self.begin(length_id)?;
        self.put(format!("{length}\nendobj\n").as_bytes())?;
        let content = format!(
            "q {:.3} 0 0 {:.3} 0 0 cm /Im0 Do Q\n",
            image.page_width, image.page_height
        );
        self.begin(content_id)?;
        self.put(
            format!(
                "<< /Length {} >>\nstream\n{content}endstream\nendobj\n",
                content.len()
            )
            .as_bytes(),
        )?;
        self.begin(page_id)?;
        self.put(
            format!(
                "<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {:.3} {:.3}] /Resources << /XObject << /Im0 {image_id} 0 R >> >> /Contents {content_id} 0 R >>\nendobj\n",
                image.page_width, image.page_height
            )
            .as_bytes(),
        )?;
        self.pages.push(page_id);
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.at
    }

    /// The page tree, the catalogue, the cross-reference table and the trailer.
    pub fn finish(mut self) -> io::Result<W> {
        let kids: Vec<String> = self.pages.iter().map(|p| format!("{p} 0 R")).collect();
        self.begin(PAGES)?;
        self.put(
            format!(
                "<< /Type /Pages /Kids [{}] /Count {} >>\nendobj\n",
                kids.join(" "),
                self.pages.len()
            )
            .as_bytes(),
        )?;
        self.begin(CATALOG)?;
        self.put(format!("<< /Type /Catalog /Pages {PAGES} 0 R >>\nendobj\n").as_bytes())?;
        let xref = self.at;
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", self.offsets.len());
        for offset in &self.offsets[1..] {
            table.push_str(&format!("{offset:010} 00000 n \n"));
        }
        table.push_str(&format!(
            "trailer\n<< /Size {} /Root {CATALOG} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            self.offsets.len()
        ));
        self.put(table.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Counts what passes (an image stream's length).
struct Counting<'a, W: Write> {
    inner: &'a mut W,
    count: u64,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The page size for an image: its physical size when the resolution is known,
/// else fitted into A4 (portrait or landscape, as the image) like CUPS's
/// `imagetopdf` does.
pub fn page_size(width: u32, height: u32, dpi: Option<(f64, f64)>) -> (f64, f64) {
    if let Some((x, y)) = dpi.filter(|(x, y)| *x >= 10.0 && *y >= 10.0) {
        return (f64::from(width) * 72.0 / x, f64::from(height) * 72.0 / y);
    }
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let (box_w, box_h) = if w > h {
        (842.0, 595.0)
    } else {
        (595.0, 842.0)
    };
    let scale = (box_w / w).min(box_h / h);
    (w * scale, h * scale)
}
