//! Document analysis as the bytes pass: the real format (sniffed, never the declared
//! one), pages and colour where the format tells them in headers. Bounded: it keeps
//! a few kilobytes of state whatever the document size, and a lying header only
//! yields an unknown or wrong count, never a crash or a stall.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::raster::{PWG_HEADER, RasterScan, URF_PAGE_HEADER, pwg_page, urf_page};

/// What analysis found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub format: &'static str,
    pub pages: Option<i64>,
    pub color: Option<bool>,
    /// Why pages or colour are unknown, for the admin (never document content).
    pub warning: Option<String>,
}

const SNIFF_LEN: usize = 16;
/// PNG signature and IHDR up to the colour type (byte 25).
const PNG_HEADER: usize = 26;

#[derive(Debug)]
enum Scan {
    Sniffing,
    Pdf(PdfScan),
    PostScript(LineScan),
    Jpeg(JpegScan),
    Pwg(RasterScan),
    Urf(RasterScan),
    Pcl(super::pcl::PclScan),
    Png(Vec<u8>),
    Opaque,
}

/// Feeds bytes in order; `finish` gives the analysis.
#[derive(Debug)]
pub struct Analyzer {
    head: Vec<u8>,
    scan: Scan,
    format: &'static str,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self {
            head: Vec::with_capacity(SNIFF_LEN),
            scan: Scan::Sniffing,
            format: "application/octet-stream",
        }
    }
}

/// The format from the first bytes of a document.
pub fn sniff(head: &[u8]) -> &'static str {
    if head.starts_with(b"%PDF-") {
        "application/pdf"
    } else if head.starts_with(b"RaS2") {
        "image/pwg-raster"
    } else if head.starts_with(b"UNIRAST\0") {
        "image/urf"
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if head.starts_with(&[0x89, b'P', b'N', b'G']) {
        "image/png"
    } else if head.starts_with(b"%!") || head.starts_with(b"\x04%!") {
        "application/postscript"
    } else if head.starts_with(b"\x1bE") || head.starts_with(b"\x1b%-12345X") {
        "application/vnd.hp-PCL"
    } else {
        "application/octet-stream"
    }
}

impl Analyzer {
    pub fn feed(&mut self, mut data: &[u8]) {
        if let Scan::Sniffing = self.scan {
            let take = (SNIFF_LEN - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
            if self.head.len() < SNIFF_LEN {
                return;
            }
            self.start();
            let head = std::mem::take(&mut self.head);
            self.feed_scan(&head);
            data = &data[take..];
        }
        self.feed_scan(data);
    }

    fn start(&mut self) {
        self.format = sniff(&self.head);
        self.scan = match self.format {
            "application/pdf" => Scan::Pdf(PdfScan::default()),
            "application/postscript" => Scan::PostScript(LineScan::default()),
            "image/jpeg" => Scan::Jpeg(JpegScan::default()),
            "image/pwg-raster" => Scan::Pwg(RasterScan::new(4, PWG_HEADER)),
            "image/urf" => Scan::Urf(RasterScan::new(12, URF_PAGE_HEADER)),
            "application/vnd.hp-PCL" => Scan::Pcl(super::pcl::PclScan::default()),
            "image/png" => Scan::Png(Vec::with_capacity(PNG_HEADER)),
            _ => Scan::Opaque,
        };
    }

    fn feed_scan(&mut self, data: &[u8]) {
        match &mut self.scan {
            Scan::Sniffing | Scan::Opaque => {}
            Scan::Pdf(s) => s.feed(data),
            Scan::PostScript(s) => s.feed(data),
            Scan::Jpeg(s) => s.feed(data),
            Scan::Pwg(s) => s.feed(data, pwg_page),
            Scan::Urf(s) => s.feed(data, urf_page),
            Scan::Pcl(s) => s.feed(data),
            Scan::Png(head) => {
                let take = (PNG_HEADER - head.len()).min(data.len());
                head.extend_from_slice(&data[..take]);
            }
        }
    }

    pub fn finish(mut self) -> Analysis {
        if let Scan::Sniffing = self.scan {
            self.start();
            let head = std::mem::take(&mut self.head);
            self.feed_scan(&head);
        }
        let format = self.format;
        let (pages, color, warning) = match self.scan {
            Scan::Pdf(s) => s.result(),
            Scan::PostScript(s) => s.result(),
            Scan::Jpeg(s) => s.result(),
            Scan::Pwg(s) | Scan::Urf(s) => s.result(),
            Scan::Pcl(s) => s.result(),
            Scan::Png(head) => png_result(&head),
            Scan::Sniffing | Scan::Opaque => (
                None,
                None,
                Some(format!("pages of {format} are not analysed")),
            ),
        };
        Analysis {
            format,
            pages,
            color,
            warning,
        }
    }
}

/// PDF: counts page objects (`/Type /Page`, not `/Pages`) as they pass. Pages kept
/// in compressed object streams are invisible to this scan; the count is then a
/// lower bound and is reported unknown when nothing was seen.
#[derive(Debug, Default)]
struct PdfScan {
    carry: Vec<u8>,
    pages: i64,
    object_streams: bool,
}

impl PdfScan {
    fn feed(&mut self, data: &[u8]) {
        const KEEP: usize = 32;
        /// `/Type`, blanks, `/ObjStm` (the longest name looked for) within KEEP.
        const MAX_SPACE: usize = KEEP - 5 - 7 - 1;
        let mut window = std::mem::take(&mut self.carry);
        window.extend_from_slice(data);
        let scan_to = window.len().saturating_sub(KEEP);
        let mut i = 0;
        while i < scan_to {
            if window[i] == b'/' {
                let rest = &window[i..];
                if rest.starts_with(b"/Type") {
                    // At most MAX_SPACE blanks: the whole match, and the byte after it,
                    // must lie within the KEEP bytes of look-ahead, or a count would
                    // depend on where the network split the document (found by fuzzing).
                    let mut j = 5;
                    while j < rest.len()
                        && j < 5 + MAX_SPACE
                        && matches!(rest[j], b' ' | b'\r' | b'\n' | b'\t')
                    {
                        j += 1;
                    }
                    let tail = &rest[j..];
                    if tail.starts_with(b"/Page")
                        && !tail[5..].first().is_some_and(|c| c.is_ascii_alphanumeric())
                    {
                        self.pages += 1;
                    }
                    if tail.starts_with(b"/ObjStm") {
                        self.object_streams = true;
                    }
                }
            }
            i += 1;
        }
        self.carry = window[scan_to..].to_vec();
    }

    fn result(mut self) -> (Option<i64>, Option<bool>, Option<String>) {
        let carry = std::mem::take(&mut self.carry);
        // Scan what is left with no look-ahead to keep.
        let mut tail = PdfScan::default();
        let mut padded = carry;
        padded.extend_from_slice(&[b' '; 40]);
        tail.feed(&padded);
        self.pages += tail.pages;
        self.object_streams |= tail.object_streams;
        match (self.pages, self.object_streams) {
            (0, _) => (
                None,
                None,
                Some("PDF page objects not visible (compressed object streams)".into()),
            ),
            (n, true) => (
                Some(n),
                None,
                Some("PDF uses object streams; page count may be low".into()),
            ),
            (n, false) => (Some(n), None, None),
        }
    }
}

/// PNG: one page; colour from the IHDR colour type (0 grey, 4 grey + alpha; 2, 3, 6
/// colour; a palette is counted as colour).
fn png_result(head: &[u8]) -> (Option<i64>, Option<bool>, Option<String>) {
    match head.get(12..16) {
        Some(b"IHDR") if head.len() == PNG_HEADER => {
            (Some(1), Some(!matches!(head[25], 0 | 4)), None)
        }
        _ => (Some(1), None, Some("PNG header not found".into())),
    }
}

/// PostScript: DSC `%%Pages: N` (first numeric one wins), else the `%%Page:` lines.
#[derive(Debug, Default)]
struct LineScan {
    line: Vec<u8>,
    declared: Option<i64>,
    page_lines: i64,
}

impl LineScan {
    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' || b == b'\r' {
                self.end_line();
            } else if self.line.len() < 256 {
                self.line.push(b);
            }
        }
    }

    fn end_line(&mut self) {
        if let Some(rest) = self.line.strip_prefix(b"%%Pages:") {
            if self.declared.is_none()
                && let Ok(text) = std::str::from_utf8(rest)
                && let Ok(n) = text.split_whitespace().next().unwrap_or("").parse::<i64>()
            {
                self.declared = Some(n);
            }
        } else if self.line.starts_with(b"%%Page:") {
            self.page_lines += 1;
        }
        self.line.clear();
    }

    fn result(mut self) -> (Option<i64>, Option<bool>, Option<String>) {
        self.end_line();
        match (self.declared, self.page_lines) {
            (Some(n), _) if n > 0 => (Some(n), None, None),
            (_, n) if n > 0 => (Some(n), None, None),
            _ => (
                None,
                None,
                Some("PostScript without DSC page comments".into()),
            ),
        }
    }
}

/// JPEG: one page; colour from the component count of the frame header.
#[derive(Debug, Default)]
struct JpegScan {
    buf: Vec<u8>,
    components: Option<u8>,
    done: bool,
}

impl JpegScan {
    fn feed(&mut self, data: &[u8]) {
        if self.done {
            return;
        }
        // The frame header sits in the first segments; 64 KiB is plenty.
        let room = (64 * 1024usize).saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
        let mut i = 2;
        while i + 4 <= self.buf.len() {
            if self.buf[i] != 0xFF {
                self.done = true;
                return;
            }
            let marker = self.buf[i + 1];
            let len = u16::from_be_bytes([self.buf[i + 2], self.buf[i + 3]]) as usize;
            if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                if let Some(&n) = self.buf.get(i + 9) {
                    self.components = Some(n);
                    self.done = true;
                }
                return;
            }
            i += 2 + len;
        }
        if room == 0 {
            self.done = true;
        }
    }

    fn result(self) -> (Option<i64>, Option<bool>, Option<String>) {
        match self.components {
            Some(n) => (Some(1), Some(n >= 3), None),
            None => (Some(1), None, Some("JPEG frame header not found".into())),
        }
    }
}

/// A reader that shows every byte to an [`Analyzer`] and counts them, and refuses
/// to read past `limit` bytes (the error's inner value is [`TooLarge`]).
pub struct AnalyzingReader<R> {
    inner: R,
    pub analyzer: Analyzer,
    pub bytes: u64,
    limit: u64,
}

/// Marker error: the document is larger than the configured maximum.
#[derive(Debug, thiserror::Error)]
#[error("document larger than {0} bytes")]
pub struct TooLarge(pub u64);

impl<R> AnalyzingReader<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            analyzer: Analyzer::default(),
            bytes: 0,
            limit,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for AnalyzingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                this.bytes += new.len() as u64;
                if this.bytes > this.limit {
                    return Poll::Ready(Err(std::io::Error::other(TooLarge(this.limit))));
                }
                this.analyzer.feed(new);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse(doc: &[u8]) -> Analysis {
        let mut a = Analyzer::default();
        // Feed in odd-sized pieces to exercise every boundary.
        for piece in doc.chunks(7) {
            a.feed(piece);
        }
        a.finish()
    }

    /// Found by fuzzing (fuzz/regressions/analyse_pdf/): with many blanks between
    /// `/Type` and `/Pages`, a split right after `/Page` counted a page.
    #[test]
    fn pdf_page_count_does_not_depend_on_the_split() {
        let spaces = " ".repeat(25);
        let doc = format!(
            "%PDF-1.7\n1 0 obj <</Type{spaces}/Pages /Kids [2 0 R]>> endobj\n\
             2 0 obj <</Type /Page>> endobj\n3 0 obj <</Type{}/Page>> endobj\n%%EOF\n",
            " ".repeat(19)
        );
        let mut whole = Analyzer::default();
        whole.feed(doc.as_bytes());
        let whole = whole.finish();
        assert_eq!(whole.pages, Some(2));
        for at in 1..doc.len() {
            let mut split = Analyzer::default();
            split.feed(&doc.as_bytes()[..at]);
            split.feed(&doc.as_bytes()[at..]);
            assert_eq!(split.finish(), whole, "split at {at}");
        }
    }

    #[test]
    fn formats_are_sniffed_not_believed() {
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff(b"%!PS-Adobe-3.0"), "application/postscript");
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
        assert_eq!(sniff(b"RaS2"), "image/pwg-raster");
        assert_eq!(sniff(b"UNIRAST\0"), "image/urf");
        assert_eq!(sniff(b"hello"), "application/octet-stream");
    }

    #[test]
    fn pdf_pages_are_counted_as_they_pass() {
        let doc = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n4 0 obj <</Type/Page/Parent 2 0 R>> endobj\ntrailer\n%%EOF\n";
        let a = analyse(doc);
        assert_eq!((a.format, a.pages), ("application/pdf", Some(2)));
    }

    #[test]
    fn postscript_dsc_pages_are_read() {
        let a = analyse(b"%!PS-Adobe-3.0\n%%Pages: 3\n%%EndComments\n%%Page: 1 1\nshowpage\n");
        assert_eq!(a.pages, Some(3));
        let a = analyse(b"%!PS-Adobe-3.0\n%%Pages: (atend)\n%%Page: 1 1\n%%Page: 2 2\n%%Trailer\n");
        assert_eq!(a.pages, Some(2));
    }

    #[test]
    fn jpeg_colour_comes_from_its_components() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00];
        jpeg.extend_from_slice(&[
            0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x10, 0x00, 0x10, 0x03, 0x01, 0x11, 0x00,
        ]);
        jpeg.extend_from_slice(&[0u8; 32]);
        let a = analyse(&jpeg);
        assert_eq!(
            (a.format, a.pages, a.color),
            ("image/jpeg", Some(1), Some(true))
        );
    }

    fn urf(pages: usize, color: bool) -> Vec<u8> {
        let mut doc = b"UNIRAST\0".to_vec();
        doc.extend_from_slice(&(pages as u32).to_be_bytes());
        for _ in 0..pages {
            let mut h = [0u8; 32];
            h[0] = if color { 24 } else { 8 };
            h[1] = if color { 1 } else { 0 };
            h[12..16].copy_from_slice(&4u32.to_be_bytes());
            h[16..20].copy_from_slice(&3u32.to_be_bytes());
            doc.extend_from_slice(&h);
            let px = if color { 3 } else { 1 };
            // Line 1 repeated twice: one run of 4 identical pixels.
            doc.push(1);
            doc.push(3);
            doc.extend(std::iter::repeat_n(0xAA, px));
            // Line 3: 4 literal pixels.
            doc.push(0);
            doc.push(253);
            doc.extend(std::iter::repeat_n(0x55, 4 * px));
        }
        doc
    }

    #[test]
    fn urf_pages_and_colour_are_decoded_not_taken_from_the_header() {
        let a = analyse(&urf(3, true));
        assert_eq!(
            (a.format, a.pages, a.color),
            ("image/urf", Some(3), Some(true))
        );
        let a = analyse(&urf(2, false));
        assert_eq!((a.pages, a.color), (Some(2), Some(false)));
        let mut cut = urf(2, false);
        cut.truncate(cut.len() - 3);
        assert_eq!(analyse(&cut).pages, None);
    }

    #[test]
    fn garbage_is_opaque_and_harmless() {
        let a = analyse(&[0x42; 10_000]);
        assert_eq!((a.format, a.pages), ("application/octet-stream", None));
        let mut liar = b"UNIRAST\0".to_vec();
        liar.extend_from_slice(&[0xFF; 100]);
        assert_eq!(analyse(&liar).pages, None);
    }
}
