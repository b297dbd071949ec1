//! Conversion at delivery (issue 17): every job is parked as it came (mostly PDF) and,
//! when the printer does not take that format, converted on its way out into one it
//! does: PWG raster, Apple raster (URF), PCL XL, PCL 5, PostScript, JPEG or PDF.
//!
//! This room is a library below `release` and `agent` (both deliver) and above nothing
//! but `config`: it knows formats, chooses a target ([`plan`]), and runs the renderer
//! (Ghostscript, a separate program) only inside a limited worker process of this
//! binary (`printpark convert`, [`worker`]), never in the server. The server side
//! ([`Converter`]) streams the plaintext into the worker and the converted bytes out,
//! page by page; nothing clear is written to disk.
//!
//! - [`Format`]: the closed set of document formats PrintPark reads or writes, parsed
//!   from MIME types at the edge.
//! - [`PrinterLanguage`]: what an admin says a raw (port 9100) printer speaks.
//! - [`plan`]: pass the document through, or convert it into what.
//! - [`Converter`] / [`Converted`]: one conversion, its output as an `AsyncRead` that
//!   is handed out only once the first page converted.

pub mod client;
pub mod protocol;
pub mod worker;

use std::str::FromStr;

pub use client::{Converted, Converter};

/// A document format PrintPark reads (parked jobs) or writes (to printers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Pdf,
    PostScript,
    Jpeg,
    Png,
    /// PWG 5102.4 raster (IPP Everywhere's required format).
    PwgRaster,
    /// Apple raster (AirPrint).
    Urf,
    /// PCL 6 "enhanced" (PCL XL).
    PclXl,
    /// PCL 5 (raster graphics in PCL 5 commands).
    Pcl5,
}

impl Format {
    /// Every format, in no particular order.
    pub const ALL: [Format; 8] = [
        Format::Pdf,
        Format::PostScript,
        Format::Jpeg,
        Format::Png,
        Format::PwgRaster,
        Format::Urf,
        Format::PclXl,
        Format::Pcl5,
    ];

    /// The IANA MIME type, as IPP's `document-format` spells it.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::PostScript => "application/postscript",
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::PwgRaster => "image/pwg-raster",
            Format::Urf => "image/urf",
            Format::PclXl => "application/vnd.hp-pclxl",
            Format::Pcl5 => "application/vnd.hp-pcl",
        }
    }

    /// The format of a MIME type (case and parameters ignored); `None` for others.
    pub fn from_mime(mime: &str) -> Option<Format> {
        let bare = mime.split(';').next().unwrap_or("").trim();
        Format::ALL
            .into_iter()
            .find(|f| f.mime().eq_ignore_ascii_case(bare))
    }

    /// A short name for people ("PWG raster").
    pub fn label(self) -> &'static str {
        match self {
            Format::Pdf => "PDF",
            Format::PostScript => "PostScript",
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::PwgRaster => "PWG raster",
            Format::Urf => "Apple raster",
            Format::PclXl => "PCL XL",
            Format::Pcl5 => "PCL 5",
        }
    }

    /// Formats a conversion can start from.
    pub fn is_input(self) -> bool {
        !matches!(self, Format::PclXl | Format::Pcl5)
    }

    /// Formats a conversion can produce.
    pub fn is_output(self) -> bool {
        self != Format::Png
    }

    /// One page per document: a printer that takes only this format gets each page
    /// as a document of its own.
    pub fn one_page_per_document(self) -> bool {
        self == Format::Jpeg
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mime())
    }
}

/// What a raw (port 9100) printer understands, as the admin sets it on the printer's
/// page (a raw connection cannot ask the printer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrinterLanguage {
    Pcl5,
    PclXl,
    PostScript,
    Pdf,
}

impl PrinterLanguage {
    pub const ALL: [PrinterLanguage; 4] = [
        PrinterLanguage::Pcl5,
        PrinterLanguage::PclXl,
        PrinterLanguage::PostScript,
        PrinterLanguage::Pdf,
    ];

    /// The setting's spelling (database, form, TOML): `pcl5`, `pclxl`, `postscript`, `pdf`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrinterLanguage::Pcl5 => "pcl5",
            PrinterLanguage::PclXl => "pclxl",
            PrinterLanguage::PostScript => "postscript",
            PrinterLanguage::Pdf => "pdf",
        }
    }

    /// The format sent to a printer speaking this language.
    pub fn format(self) -> Format {
        match self {
            PrinterLanguage::Pcl5 => Format::Pcl5,
            PrinterLanguage::PclXl => Format::PclXl,
            PrinterLanguage::PostScript => Format::PostScript,
            PrinterLanguage::Pdf => Format::Pdf,
        }
    }

    /// For people: "PCL 5", "PCL XL", "PostScript", "PDF".
    pub fn label(self) -> &'static str {
        self.format().label()
    }

    /// The order in which a language a printer reports of itself (SNMP) is proposed to
    /// the admin, best first. PostScript: a vector description the printer renders at
    /// its own resolution with its own fonts and halftoning, streamed page by page (the
    /// language CUPS and OpenPrinting recommend when a printer has it). PCL XL: vector
    /// and streamed too, but Ghostscript's PCL XL writer sends text as bitmaps and
    /// flattens what PCL XL cannot say. PDF after both: over a raw port the printer
    /// must receive the whole file before page 1 (the cross-reference table is at the
    /// end), and small printers' direct PDF printing is often partial and short of
    /// memory. PCL 5 last: Ghostscript makes it a raster, large and slow.
    pub const PROPOSAL_ORDER: [PrinterLanguage; 4] = [
        PrinterLanguage::PostScript,
        PrinterLanguage::PclXl,
        PrinterLanguage::Pdf,
        PrinterLanguage::Pcl5,
    ];

    /// `languages` without repeats, in [`Self::PROPOSAL_ORDER`] (the first is the one
    /// to propose).
    pub fn best_first(languages: &[PrinterLanguage]) -> Vec<PrinterLanguage> {
        Self::PROPOSAL_ORDER
            .into_iter()
            .filter(|l| languages.contains(l))
            .collect()
    }

    /// A stored list (`pclxl,postscript`), unknown entries left out.
    pub fn parse_list(text: &str) -> Vec<PrinterLanguage> {
        text.split(',')
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// A list as stored: `postscript,pclxl`.
    pub fn list_text(languages: &[PrinterLanguage]) -> String {
        languages
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl FromStr for PrinterLanguage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PrinterLanguage::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown printer language {s:?} (pcl5, pclxl, postscript or pdf)")
            })
    }
}

/// How the output's pages are turned (from the job's `sides`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplex {
    #[default]
    OneSided,
    LongEdge,
    ShortEdge,
}

/// One conversion, fully described: what comes in, what goes out, and what the job
/// and the printer ask of the pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub from: Format,
    pub to: Format,
    /// Grey output (the person chose black and white, or the printer has no colour).
    pub gray: bool,
    /// Only these pages, 1-based and inclusive, in order; `None` for all.
    pub page_ranges: Option<Vec<(u32, u32)>>,
    pub duplex: Duplex,
    /// Raster resolution in dots per inch (raster outputs and rasterised PCL).
    pub dpi: u32,
    /// The page size as a PWG media keyword (`iso_a4_210x297mm`); `None` keeps the
    /// document's own size.
    pub media: Option<String>,
}

/// What the printer gets: the parked bytes as they are, or a conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Byte for byte, in the job's own format (also when the printer's formats are not
    /// known: it is then the printer's to refuse, as before).
    PassThrough,
    /// Converted by the renderer.
    Convert(Spec),
}

impl Plan {
    /// The MIME type the printer receives.
    pub fn format<'a>(&'a self, job_format: &'a str) -> &'a str {
        match self {
            Plan::PassThrough => job_format,
            Plan::Convert(spec) => spec.to.mime(),
        }
    }
}

/// What the job asks of its pages, for [`plan`].
#[derive(Debug, Clone, Default)]
pub struct JobLook {
    /// The person chose black and white.
    pub gray: bool,
    pub page_ranges: Option<Vec<(u32, u32)>>,
    pub duplex: Duplex,
    pub media: Option<String>,
}

/// Output formats in the order PrintPark prefers them when a printer takes several
/// and not the job's own: vector before raster (sharper, smaller), then the IPP
/// Everywhere and AirPrint rasters, then the PCL rasters, JPEG last (one page each).
pub const PREFERENCE: [Format; 7] = [
    Format::Pdf,
    Format::PostScript,
    Format::PwgRaster,
    Format::Urf,
    Format::PclXl,
    Format::Pcl5,
    Format::Jpeg,
];

/// Default raster resolution: what IPP Everywhere printers all offer and text needs.
pub const DEFAULT_DPI: u32 = 300;

/// Chooses what to send. `accepted` is the printer's `document-format-supported` (or a
/// device's `document-format-accepted`); `language` the admin's setting for a raw
/// printer. Pass-through when the printer takes the job's format and nothing asks
/// for a change of the pages PrintPark must make itself; else a conversion into the
/// first format of [`PREFERENCE`] the printer takes.
///
/// `pages_by_printer`: the printer applies page ranges itself (IPP); `false` for raw
/// printers, where ranges (and grey) can only be made by converting.
pub fn plan(
    job_format: &str,
    accepted: &[String],
    language: Option<PrinterLanguage>,
    job: &JobLook,
    pages_by_printer: bool,
) -> Result<Plan, ConvertError> {
    let from = Format::from_mime(job_format);
    let takes = |f: Format| accepted.iter().any(|a| Format::from_mime(a) == Some(f));
    // `application/octet-stream` means "I detect the format myself", among the formats
    // listed beside it: it takes anything only when nothing else is listed
    // (ippeveprinter -f image/pwg-raster says octet-stream and pwg-raster, and a PDF
    // sent to it is refused).
    let named: Vec<&String> = accepted
        .iter()
        .filter(|a| !a.eq_ignore_ascii_case("application/octet-stream"))
        .collect();
    let takes_job_format =
        named.is_empty() || named.iter().any(|a| a.eq_ignore_ascii_case(job_format));
    // The targets the printer takes, best first.
    let mut targets: Vec<Format> = PREFERENCE.into_iter().filter(|f| takes(*f)).collect();
    if let Some(language) = language {
        // A raw printer takes exactly its language (IPP printers' lists come first).
        if !targets.contains(&language.format()) {
            targets.insert(0, language.format());
        }
    }
    let needs_page_work = job.gray || (!pages_by_printer && job.page_ranges.is_some());
    let passes = match language {
        Some(l) => from == Some(l.format()),
        None => accepted.is_empty() || takes_job_format,
    };
    if passes && !needs_page_work {
        return Ok(Plan::PassThrough);
    }
    let Some(from) = from.filter(|f| f.is_input()) else {
        if passes {
            // Nothing PrintPark can render: the bytes go as they are, ranges and
            // grey left to the printer.
            return Ok(Plan::PassThrough);
        }
        return Err(ConvertError::Unsupported(format!(
            "{job_format} cannot be converted (PrintPark converts PDF, PostScript, JPEG, PNG, PWG raster and Apple raster)"
        )));
    };
    // Keep the job's own format when the printer takes it (grey or ranges are made in
    // that format); else the best the printer takes.
    let to = if passes && from.is_output() {
        from
    } else {
        match targets.first() {
            Some(to) => *to,
            None => {
                return Err(ConvertError::Unsupported(format!(
                    "the printer takes none of the formats PrintPark can make (it takes: {})",
                    accepted.join(", ")
                )));
            }
        }
    };
    Ok(Plan::Convert(Spec {
        from,
        to,
        gray: job.gray,
        page_ranges: job.page_ranges.clone(),
        duplex: job.duplex,
        dpi: DEFAULT_DPI,
        media: job.media.clone(),
    }))
}

/// Why a conversion could not be made. The text is meant for the person releasing
/// and the admin ("page 3 could not be rendered: …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// No way from this format to any the printer takes.
    #[error("{0}")]
    Unsupported(String),
    /// The renderer (Ghostscript) is not installed or the worker could not start.
    #[error("the converter is not available: {0}")]
    Unavailable(String),
    /// The document could not be rendered; `page` when the renderer said which.
    #[error("{}", match page { Some(p) => format!("page {p} could not be rendered: {reason}"), None => format!("the document could not be converted: {reason}") })]
    Render { page: Option<u32>, reason: String },
    /// The worker took longer than its limit and was killed.
    #[error("converting took longer than {0} s and was stopped")]
    Timeout(u64),
    /// The worker died (crash, memory limit) and was replaced.
    #[error("the converter stopped on this document (crash or memory limit)")]
    Died,
    /// The parked document could not be read back.
    #[error("the document could not be read back: {0}")]
    Source(String),
}

#[cfg(test)]
mod tests;
