//! Inputs Ghostscript does not read itself become a PDF here, in Rust, inside the
//! worker: JPEG is wrapped as it is (no re-encoding), PNG, PWG raster and Apple
//! raster are decoded and written as Flate images, one page each. PostScript whose
//! pages are chosen (page ranges) is first distilled into a PDF by Ghostscript:
//! Ghostscript 10's `-sPageList` on PostScript does not select reliably together
//! with the page-done `EndPage` hook (seen: page 1 printed for "page 2", two pages
//! for "page 3"), while on PDF it does.

use super::Failure;
use super::input::MemFile;
use super::render::{PrivateDir, Source};
use crate::convert::{Format, Spec};

/// The document as Ghostscript reads it for `spec`.
pub fn to_renderable(spec: &Spec, document: MemFile) -> Result<Source, Failure> {
    if spec.from == Format::PostScript && spec.page_ranges.is_some() {
        let file = distil_postscript(&document)?;
        return Ok(Source { file, pdf: true });
    }
    renderable(spec.from, document)
}

fn renderable(from: Format, document: MemFile) -> Result<Source, Failure> {
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
            let file = match from {
                Format::Jpeg => super::images::jpeg_to_pdf(document),
                Format::Png => super::images::png_to_pdf(document),
                _ => super::raster::to_pdf(from, document),
            }
            .map_err(Failure::new)?;
            Ok(Source { file, pdf: true })
        }
        Format::PclXl | Format::Pcl5 => Err(Failure::new(format!(
            "{} cannot be converted (PrintPark converts PDF, PostScript, JPEG, PNG, PWG raster and Apple raster)",
            from.label()
        ))),
    }
}

/// PostScript → PDF (Ghostscript's pdfwrite) into a new in-memory file, all pages.
fn distil_postscript(document: &MemFile) -> Result<MemFile, Failure> {
    let mut pdf = MemFile::new("printpark-distilled").map_err(Failure::new)?;
    let tmp = PrivateDir::new()?;
    let mut command = std::process::Command::new("gs");
    command
        .args([
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sstdout=%stderr",
            "-sDEVICE=pdfwrite",
        ])
        .arg(format!("-sOutputFile={}", pdf.path()))
        .arg(document.path())
        .env_clear()
        .env("TMPDIR", &tmp.path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let output = command
        .output()
        .map_err(|e| Failure::new(format!("Ghostscript (gs) could not start: {e}")))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let reason: Vec<&str> = said
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(5)
            .collect();
        return Err(Failure::new(format!(
            "the PostScript could not be read: {}",
            reason.join(" ")
        )));
    }
    pdf.rewind().map_err(Failure::new)?;
    Ok(pdf)
}
