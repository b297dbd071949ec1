//! Ghostscript's command line for a [`Spec`]: the device and its options, page size,
//! page list, and the hook that reports each finished page on stderr.
//!
//! gs 10 (Debian's): `-sstdout=%stderr` puts PostScript's own output and gs's
//! messages on stderr, so stdout carries only the rendered bytes; without `-dQUIET`
//! the PDF interpreter says `Page N` as it starts a page. The `EndPage` procedure
//! installed before the document prints [`PAGE_DONE`] after each page that is
//! output, for PDF and PostScript alike.

use crate::convert::{Duplex, Format, Spec};

/// The line the `EndPage` hook prints once a page is complete.
pub const PAGE_DONE: &str = "%PrintPark-page-done";

/// Where Ghostscript writes.
pub enum Output<'a> {
    Stdout,
    File(&'a str),
}

/// Outputs Ghostscript writes only at the end (a document-wide structure), sent
/// once the whole conversion succeeded.
pub fn written_at_end(to: Format) -> bool {
    matches!(to, Format::Pdf | Format::PostScript | Format::Jpeg)
}

/// The arguments, program name excluded. `pages`: the pages the output will have,
/// when known (raster headers carry it: `TotalPageCount`, URF's page count).
pub fn args(spec: &Spec, input: &str, output: Output<'_>, pages: Option<u32>) -> Vec<String> {
    let mut a: Vec<String> = [
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-dNOPROMPT",
        "-sstdout=%stderr",
        // A broken page is an error, not a silently blank page.
        "-dPDFSTOPONERROR",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let dpi = spec.dpi;
    let duplex = spec.duplex != Duplex::OneSided;
    let tumble = spec.duplex == Duplex::ShortEdge;
    let gray_vector = [
        "-sColorConversionStrategy=Gray",
        "-dProcessColorModel=/DeviceGray",
    ];
    match spec.to {
        Format::PwgRaster | Format::Urf => {
            let device = if spec.to == Format::Urf {
                "urf"
            } else {
                "pwgraster"
            };
            a.push(format!("-sDEVICE={device}"));
            a.push(format!("-r{dpi}"));
            // 18 = sGray (sW), 19 = sRGB, 8 bits per colour (what IPP Everywhere and
            // AirPrint printers all take).
            a.push(format!(
                "-dcupsColorSpace={}",
                if spec.gray { 18 } else { 19 }
            ));
            a.push("-dcupsBitsPerColor=8".into());
            if let Some(n) = pages {
                a.push(format!("-dcupsInteger0={n}"));
            }
            if duplex {
                a.push("-dDuplex=true".into());
                a.push(format!("-dTumble={tumble}"));
            }
        }
        Format::PclXl => {
            a.push(format!(
                "-sDEVICE={}",
                if spec.gray { "pxlmono" } else { "pxlcolor" }
            ));
            a.push(format!("-r{dpi}"));
            if duplex {
                a.push("-dDuplex=true".into());
                a.push(format!("-dTumble={tumble}"));
            }
        }
        Format::Pcl5 => {
            // PCL 5 colour lasers (cljet5) take 300 dpi; mono ones (ljet4) 300 or 600.
            if spec.gray {
                a.push(format!(
                    "-sDEVICE={}",
                    if duplex { "ljet4d" } else { "ljet4" }
                ));
                a.push(format!("-r{}", if dpi >= 600 { 600 } else { 300 }));
                if duplex {
                    a.push("-dDuplex=true".into());
                    a.push(format!("-dTumble={tumble}"));
                }
            } else {
                a.push("-sDEVICE=cljet5".into());
                a.push("-r300".into());
            }
        }
        Format::PostScript => {
            a.push("-sDEVICE=ps2write".into());
            if spec.gray {
                a.extend(gray_vector.iter().map(|s| s.to_string()));
            }
        }
        Format::Pdf => {
            a.push("-sDEVICE=pdfwrite".into());
            if spec.gray {
                a.extend(gray_vector.iter().map(|s| s.to_string()));
            }
        }
        Format::Jpeg => {
            a.push(format!(
                "-sDEVICE={}",
                if spec.gray { "jpeggray" } else { "jpeg" }
            ));
            a.push(format!("-r{dpi}"));
            a.push("-dJPEGQ=90".into());
        }
        // Not an output (Format::is_output); the caller refused it before.
        Format::Png => {}
    }
    if let Some((w, h)) = spec.media.as_deref().and_then(super::media::points) {
        a.push(format!("-dDEVICEWIDTHPOINTS={w}"));
        a.push(format!("-dDEVICEHEIGHTPOINTS={h}"));
        a.push("-dFIXEDMEDIA".into());
        // Scale each page to the fixed size (PDF, PostScript, EPS alike).
        a.push("-dFitPage".into());
    }
    if let Some(list) = page_list(spec) {
        a.push(format!("-sPageList={list}"));
    }
    a.push(match output {
        Output::Stdout => "-sOutputFile=-".into(),
        Output::File(path) => format!("-sOutputFile={path}"),
    });
    a.push("-c".into());
    a.push(format!(
        "<< /EndPage {{ exch pop dup 2 ne {{ ({PAGE_DONE}\\n) print flush }} if 2 ne }} bind >> setpagedevice"
    ));
    a.push("-f".into());
    a.push(input.to_owned());
    a
}

/// How many of a document's `total` pages the spec's ranges select.
pub fn selected(spec: &Spec, total: u32) -> u32 {
    let Some(ranges) = &spec.page_ranges else {
        return total;
    };
    (1..=total)
        .filter(|p| ranges.iter().any(|(a, b)| (a..=b).contains(&p)))
        .count() as u32
}

/// `-sPageList`'s value: the ranges, or the one page a JPEG (one page per document)
/// is asked for.
fn page_list(spec: &Spec) -> Option<String> {
    if spec.to == Format::Jpeg {
        // One page per document: the first asked for, page 1 when none was.
        let first = spec.page_ranges.as_ref().and_then(|r| r.first());
        return Some(first.map_or(1, |(a, _)| *a).to_string());
    }
    let ranges = spec.page_ranges.as_ref()?;
    let parts: Vec<String> = ranges
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    Some(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(to: Format) -> Spec {
        Spec {
            from: Format::Pdf,
            to,
            gray: false,
            page_ranges: None,
            duplex: Duplex::OneSided,
            dpi: 300,
            media: None,
        }
    }

    #[test]
    fn devices_follow_the_spec() {
        let has = |s: &Spec, arg: &str| {
            args(s, "/in", Output::Stdout, None)
                .iter()
                .any(|a| a == arg)
        };
        assert!(has(&spec(Format::PwgRaster), "-dcupsColorSpace=19"));
        let mut gray = spec(Format::PwgRaster);
        gray.gray = true;
        gray.page_ranges = Some(vec![(1, 3), (7, 7)]);
        gray.media = Some("iso_a4_210x297mm".into());
        assert!(has(&gray, "-dcupsColorSpace=18"));
        assert!(has(&gray, "-sPageList=1-3,7"));
        assert!(has(&gray, "-dDEVICEWIDTHPOINTS=595"));
        let mut jpeg = spec(Format::Jpeg);
        jpeg.page_ranges = Some(vec![(4, 9)]);
        assert!(has(&jpeg, "-sPageList=4"));
        assert!(has(&spec(Format::Jpeg), "-sPageList=1"));
        assert!(has(&spec(Format::Pcl5), "-sDEVICE=cljet5"));
        let mut mono = spec(Format::PclXl);
        mono.gray = true;
        assert!(has(&mono, "-sDEVICE=pxlmono"));
        let mut pdf = spec(Format::Pdf);
        pdf.gray = true;
        assert!(has(&pdf, "-sColorConversionStrategy=Gray"));
        assert_eq!(
            args(&pdf, "/in", Output::Stdout, None)
                .last()
                .map(String::as_str),
            Some("/in")
        );
    }
}
