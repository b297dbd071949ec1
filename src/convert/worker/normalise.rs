//! Inputs Ghostscript does not read itself become a PDF here, in Rust, inside the
//! worker: JPEG is wrapped as it is (no re-encoding), PNG, PWG raster and Apple
//! raster are decoded and written as Flate images, one page each.

use super::Failure;
use super::input::MemFile;
use super::render::Source;
use crate::convert::Format;

/// The document as Ghostscript reads it.
pub fn to_renderable(from: Format, document: MemFile) -> Result<Source, Failure> {
    match from {
        Format::Pdf => Ok(Source {
            file: document,
            pdf: true,
        }),
        Format::PostScript => Ok(Source {
            file: document,
            pdf: false,
        }),
        Format::Jpeg | Format::Png | Format::PwgRaster | Format::Urf => {
            let file = super::raster::to_pdf(from, document).map_err(Failure::new)?;
            Ok(Source { file, pdf: true })
        }
        Format::PclXl | Format::Pcl5 => Err(Failure::new(format!(
            "{} cannot be converted (PrintPark converts PDF, PostScript, JPEG, PNG, PWG raster and Apple raster)",
            from.label()
        ))),
    }
}
