//! PWG raster and URF, as the bytes pass: each page header read at its known place
//! (size, bits per pixel, colour space), the compressed lines between headers walked
//! to find where the next page starts. Bounded state; a lying header only yields an
//! unknown count.

/// PWG raster page header size (PWG 5102.4 §4.3).
pub(super) const PWG_HEADER: usize = 1796;
/// URF page header size.
pub(super) const URF_PAGE_HEADER: usize = 32;

/// Raster formats: page headers at known places, compressed lines between them.
/// Both PWG raster and URF compress each line as: a line-repeat byte, then runs
/// (`0..=127`: repeat the next pixel n+1 times; `129..=255`: copy 257-n pixels;
/// 128 ends the line early, PWG only) until the line's pixels are complete.
#[derive(Debug)]
pub(super) struct RasterScan {
    /// Bytes to skip before the first page header (sync word / file header).
    skip: usize,
    header_len: usize,
    header: Vec<u8>,
    /// Bytes per pixel and pixels per line of the current page.
    bpp: u64,
    width: u64,
    pages: i64,
    color: bool,
    state: RasterState,
    error: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum RasterState {
    Skipping,
    Header,
    LineStart {
        lines_left: u64,
    },
    Runs {
        lines_left: u64,
        pixels_left: u64,
    },
    RunPixel {
        lines_left: u64,
        pixels_left: u64,
        bytes_left: u64,
        after: u64,
    },
    Failed,
}

/// (bytes per pixel, width, height, is colour) from a page header.
type PageFormat = fn(&[u8]) -> Option<(u64, u64, u64, bool)>;

fn be32(b: &[u8], at: usize) -> u64 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as u64
}

/// The compression unit is a pixel of `BitsPerPixel / 8` bytes, or one byte (8 or
/// more pixels) for bitmaps: a line is `BytesPerLine / unit` units long.
pub(super) fn pwg_page(h: &[u8]) -> Option<(u64, u64, u64, bool)> {
    let height = be32(h, 376);
    let bits_per_pixel = be32(h, 388);
    let bytes_per_line = be32(h, 392);
    let color_space = be32(h, 400);
    // Grey spaces: 0 W, 3 K, 18 sW; everything else (RGB, CMYK, Lab, device N) is colour.
    let color = !matches!(color_space, 0 | 3 | 18);
    let unit = (bits_per_pixel / 8).max(1);
    if bits_per_pixel == 0 || !bytes_per_line.is_multiple_of(unit) {
        return None;
    }
    Some((unit, bytes_per_line / unit, height, color))
}

pub(super) fn urf_page(h: &[u8]) -> Option<(u64, u64, u64, bool)> {
    let bits_per_pixel = h[0] as u64;
    let color_space = h[1];
    let width = be32(h, 12);
    let height = be32(h, 16);
    Some((
        (bits_per_pixel / 8).max(1),
        width,
        height,
        !matches!(color_space, 0 | 4),
    ))
}

impl RasterScan {
    pub(super) fn new(skip: usize, header_len: usize) -> Self {
        Self {
            skip,
            header_len,
            header: Vec::new(),
            bpp: 1,
            width: 1,
            pages: 0,
            color: false,
            state: RasterState::Skipping,
            error: None,
        }
    }

    fn fail(&mut self, why: &str) {
        self.error = Some(why.to_owned());
        self.state = RasterState::Failed;
    }

    pub(super) fn feed(&mut self, data: &[u8], page_format: PageFormat) {
        for &b in data {
            match self.state {
                RasterState::Failed => return,
                RasterState::Skipping => {
                    self.skip -= 1;
                    if self.skip == 0 {
                        self.state = RasterState::Header;
                    }
                }
                RasterState::Header => {
                    self.header.push(b);
                    if self.header.len() == self.header_len {
                        match page_format(&self.header) {
                            Some((p, w, h, color))
                                if p <= 16
                                    && w > 0
                                    && h > 0
                                    && w <= 1_000_000
                                    && h <= 10_000_000 =>
                            {
                                self.pages += 1;
                                self.color |= color;
                                self.bpp = p;
                                self.width = w;
                                self.state = RasterState::LineStart { lines_left: h };
                            }
                            _ => self.fail("raster page header is invalid"),
                        }
                    }
                }
                RasterState::LineStart { lines_left } => {
                    let repeat = b as u64 + 1;
                    let lines_left = lines_left.saturating_sub(repeat);
                    self.state = RasterState::Runs {
                        lines_left,
                        pixels_left: self.width,
                    };
                }
                RasterState::Runs {
                    lines_left,
                    pixels_left,
                } => {
                    let p = self.bpp;
                    if b == 128 {
                        self.line_done(lines_left);
                    } else if b < 128 {
                        let n = (b as u64 + 1).min(pixels_left);
                        self.state = RasterState::RunPixel {
                            lines_left,
                            pixels_left,
                            bytes_left: p,
                            after: pixels_left - n,
                        };
                    } else {
                        let n = (257 - b as u64).min(pixels_left);
                        self.state = RasterState::RunPixel {
                            lines_left,
                            pixels_left,
                            bytes_left: n * p,
                            after: pixels_left - n,
                        };
                    }
                }
                RasterState::RunPixel {
                    lines_left,
                    pixels_left,
                    bytes_left,
                    after,
                } => {
                    if bytes_left > 1 {
                        self.state = RasterState::RunPixel {
                            lines_left,
                            pixels_left,
                            bytes_left: bytes_left - 1,
                            after,
                        };
                    } else if after == 0 {
                        self.line_done(lines_left);
                    } else {
                        self.state = RasterState::Runs {
                            lines_left,
                            pixels_left: after,
                        };
                    }
                }
            }
        }
    }

    fn line_done(&mut self, lines_left: u64) {
        if lines_left == 0 {
            self.header.clear();
            self.state = RasterState::Header;
        } else {
            self.state = RasterState::LineStart { lines_left };
        }
    }

    pub(super) fn result(self) -> (Option<i64>, Option<bool>, Option<String>) {
        if let Some(error) = self.error {
            return (None, None, Some(error));
        }
        let ended_cleanly = matches!(self.state, RasterState::Header) && self.header.is_empty();
        if self.pages == 0 || !ended_cleanly {
            return (None, None, Some("raster stream ends inside a page".into()));
        }
        (Some(self.pages), Some(self.color), None)
    }
}
