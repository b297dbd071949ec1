//! Counting a document's pages: Ghostscript for PDF and PostScript, one for images,
//! the page headers for rasters.

use std::process::{Command, Stdio};

use super::Failure;
use super::input::MemFile;
use crate::convert::Format;

pub fn pages(from: Format, document: MemFile) -> Result<u32, Failure> {
    match from {
        Format::Jpeg | Format::Png => Ok(1),
        Format::PwgRaster | Format::Urf => {
            super::raster::count(from, document).map_err(Failure::new)
        }
        Format::Pdf => pdf_pages(&document),
        Format::PostScript => postscript_pages(&document),
        Format::PclXl | Format::Pcl5 => Err(Failure::new(format!(
            "the pages of {} are not counted here",
            from.label()
        ))),
    }
}

/// The page tree's count, as Ghostscript's PDF interpreter reads it.
pub fn pdf_pages(document: &MemFile) -> Result<u32, Failure> {
    let path = document.path();
    let program =
        format!("({path}) (r) file runpdfbegin pdfpagecount (%PrintPark-pages ) print = quit");
    let out = gs(&[
        "-dSAFER",
        "-dNODISPLAY",
        "-dNOPAUSE",
        "-dBATCH",
        "-sstdout=%stderr",
        format!("--permit-file-read={path}").as_str(),
        "-c",
        program.as_str(),
    ])?;
    out.lines()
        .find_map(|l| l.trim().strip_prefix("%PrintPark-pages "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| Failure::new("the PDF's pages could not be counted"))
}

/// PostScript is a program: its pages are counted by running it (at a tiny
/// resolution, drawing nothing).
fn postscript_pages(document: &MemFile) -> Result<u32, Failure> {
    let out = gs(&[
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-sstdout=%stderr",
        "-sDEVICE=nullpage",
        "-r10",
        "-c",
        "<< /EndPage { exch pop dup 2 ne { (%PrintPark-page-done\\n) print flush } if 2 ne } bind >> setpagedevice",
        "-f",
        document.path().as_str(),
    ])?;
    let n = out
        .lines()
        .filter(|l| l.trim() == super::gs::PAGE_DONE)
        .count();
    u32::try_from(n).map_err(|_| Failure::new("too many pages"))
}

/// Runs Ghostscript; its messages (stderr) when it succeeded.
fn gs(args: &[&str]) -> Result<String, Failure> {
    let mut command = Command::new("gs");
    command
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let out = command
        .output()
        .map_err(|e| Failure::new(format!("Ghostscript (gs) could not start: {e}")))?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let reason = text
            .lines()
            .find(|l| l.contains("rror"))
            .unwrap_or("Ghostscript failed")
            .trim()
            .to_owned();
        return Err(Failure::new(format!(
            "the pages could not be counted: {reason}"
        )));
    }
    Ok(text)
}
