//! Page counters for the converted streams, written for the bench alone (independent
//! of the converter under test and of `jobs::pcl`): PWG raster and Apple raster (URF)
//! are decoded line by line to find every page header (a wrong length shows as a bad
//! header, not as a plausible count), PCL XL is tokenised and its `BeginPage` and
//! `EndPage` operators counted (they must agree). Both are fed the stream in pieces as
//! it arrives, so the bench never holds an output (100 pages of 300 dpi colour raster
//! are 200–340 MB).

/// What a counter found.
#[derive(Debug, Clone, Default)]
pub struct Count {
    pub pages: u32,
    /// The first page's pixels and resolution (raster) or `None` (PCL XL).
    pub first_page: Option<(u32, u32, u32)>,
    /// Why the stream is not well formed, if it is not.
    pub error: Option<String>,
}

pub trait Counter: Send {
    fn feed(&mut self, data: &[u8]);
    /// At the end of the stream.
    fn finish(self: Box<Self>) -> Count;
}

pub fn for_target(target: &str) -> Box<dyn Counter> {
    match target {
        "pwg" => Box::new(Raster::new(Kind::Pwg)),
        "urf" => Box::new(Raster::new(Kind::Urf)),
        _ => Box::new(PclXl::default()),
    }
}

// ---------------------------------------------------------------------------------
// PWG raster (PWG 5102.4) and Apple raster

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Pwg,
    Urf,
}

enum Raster_ {
    /// Collecting `need` bytes of a file or page header.
    Header,
    /// At the start of a line group: its repeat byte.
    LineStart,
    /// Inside a line: the next run's code.
    Op,
    /// Skipping pixel bytes of a run.
    Skip(u64),
}

struct Raster {
    kind: Kind,
    state: Raster_,
    header: Vec<u8>,
    need: usize,
    file_header_done: bool,
    /// Bytes per pixel unit (1 for bit depths under 8), units per line, lines.
    unit: u64,
    width: u64,
    height: u64,
    x: u64,
    lines_in_group: u64,
    rows: u64,
    count: Count,
}

impl Raster {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            state: Raster_::Header,
            header: Vec::new(),
            // "RaS2" / "UNIRAST\0" + page count.
            need: if kind == Kind::Pwg { 4 } else { 12 },
            file_header_done: false,
            unit: 0,
            width: 0,
            height: 0,
            x: 0,
            lines_in_group: 0,
            rows: 0,
            count: Count::default(),
        }
    }

    fn be32(&self, at: usize) -> u32 {
        u32::from_be_bytes([
            self.header[at],
            self.header[at + 1],
            self.header[at + 2],
            self.header[at + 3],
        ])
    }

    fn fail(&mut self, why: String) {
        if self.count.error.is_none() {
            self.count.error = Some(why);
        }
    }

    /// A complete file or page header is in `self.header`.
    fn header_done(&mut self) {
        if !self.file_header_done {
            let ok = match self.kind {
                Kind::Pwg => self.header == b"RaS2",
                Kind::Urf => self.header.starts_with(b"UNIRAST\0"),
            };
            if !ok {
                let head = String::from_utf8_lossy(&self.header).into_owned();
                self.fail(format!("no raster file header (starts {head:?})"));
            }
            self.file_header_done = true;
            self.header.clear();
            self.need = if self.kind == Kind::Pwg { 1796 } else { 32 };
            return;
        }
        let (bpp, width, height, dpi, bytes_per_line) = match self.kind {
            // cupsBitsPerPixel, cupsWidth, cupsHeight, HWResolution, cupsBytesPerLine.
            Kind::Pwg => {
                if !self.header.starts_with(b"PwgRaster\0") {
                    self.fail(format!("page {}: no PWG page header", self.count.pages + 1));
                }
                (
                    self.be32(388),
                    self.be32(372),
                    self.be32(376),
                    self.be32(276),
                    self.be32(392),
                )
            }
            Kind::Urf => {
                let bpp = u32::from(self.header[0]);
                let width = self.be32(12);
                (
                    bpp,
                    width,
                    self.be32(16),
                    self.be32(20),
                    (width * bpp).div_ceil(8),
                )
            }
        };
        if bpp == 0 || width == 0 || height == 0 || bpp > 64 {
            self.fail(format!(
                "page {}: implausible header ({width}x{height}, {bpp} bits)",
                self.count.pages + 1
            ));
        }
        self.count.pages += 1;
        if self.count.first_page.is_none() {
            self.count.first_page = Some((width, height, dpi));
        }
        self.unit = u64::from((bpp / 8).max(1));
        self.width = if bpp >= 8 {
            u64::from(width)
        } else {
            u64::from(bytes_per_line)
        };
        self.height = u64::from(height);
        self.rows = 0;
        self.header.clear();
        self.state = Raster_::LineStart;
    }

    fn line_covered(&mut self) {
        self.rows += self.lines_in_group;
        self.state = if self.rows >= self.height {
            Raster_::Header
        } else {
            Raster_::LineStart
        };
    }
}

impl Counter for Raster {
    fn feed(&mut self, data: &[u8]) {
        let mut i = 0;
        while i < data.len() {
            if self.count.error.is_some() {
                return;
            }
            match self.state {
                Raster_::Header => {
                    let take = (self.need - self.header.len()).min(data.len() - i);
                    self.header.extend_from_slice(&data[i..i + take]);
                    i += take;
                    if self.header.len() == self.need {
                        self.header_done();
                    }
                }
                Raster_::LineStart => {
                    self.lines_in_group = u64::from(data[i]) + 1;
                    self.x = 0;
                    i += 1;
                    self.state = Raster_::Op;
                }
                Raster_::Op => {
                    let code = data[i];
                    i += 1;
                    let (pixels, bytes) = match code {
                        // The rest of the line is blank.
                        128 => (self.width - self.x, 0),
                        0..=127 => (u64::from(code) + 1, self.unit),
                        _ => {
                            let n = 257 - u64::from(code);
                            (n, n * self.unit)
                        }
                    };
                    self.x += pixels;
                    if self.x > self.width {
                        self.fail(format!(
                            "page {}: a run crosses the end of line {}",
                            self.count.pages,
                            self.rows + 1
                        ));
                        return;
                    }
                    self.state = Raster_::Skip(bytes);
                    if bytes == 0 {
                        self.state = Raster_::Op;
                        if self.x == self.width {
                            self.line_covered();
                        }
                    }
                }
                Raster_::Skip(n) => {
                    let take = n.min((data.len() - i) as u64);
                    i += take as usize;
                    if take == n {
                        self.state = Raster_::Op;
                        if self.x == self.width {
                            self.line_covered();
                        }
                    } else {
                        self.state = Raster_::Skip(n - take);
                    }
                }
            }
        }
    }

    fn finish(mut self: Box<Self>) -> Count {
        let clean = matches!(self.state, Raster_::Header) && self.header.is_empty();
        if !clean {
            self.fail(format!("stream ends inside page {}", self.count.pages));
        }
        self.count
    }
}

// ---------------------------------------------------------------------------------
// PCL XL (PCL 6 enhanced), behind PJL

enum Xl {
    /// PJL text, up to the PCL XL stream header line.
    Pjl,
    /// The stream header line (`) HP-PCL XL;…`), to its line feed.
    StreamHeader,
    Tag,
    /// Bytes to skip.
    Skip(u64),
    /// An array's element size, waiting for the type of its length.
    ArrayLength(u64),
    /// A number of `len` bytes; `then` says what it counts.
    Number {
        len: u8,
        got: u8,
        value: u64,
        then: Then,
    },
    /// After the Universal Exit Language: PJL again (or the end).
    Done,
}

#[derive(Clone, Copy)]
enum Then {
    Array(u64),
    Data,
}

pub struct PclXl {
    state: Xl,
    line: Vec<u8>,
    little_endian: bool,
    begin: u32,
    end: u32,
    error: Option<String>,
}

impl Default for PclXl {
    fn default() -> Self {
        Self {
            state: Xl::Pjl,
            line: Vec::new(),
            little_endian: true,
            begin: 0,
            end: 0,
            error: None,
        }
    }
}

/// Size of a PCL XL data type by the low bits of its tag: ubyte, uint16, uint32,
/// sint16, sint32, real32.
fn xl_size(tag: u8) -> Option<u64> {
    [1u64, 2, 4, 2, 4, 4].get(usize::from(tag & 0x07)).copied()
}

impl Counter for PclXl {
    fn feed(&mut self, data: &[u8]) {
        let mut i = 0;
        while i < data.len() && self.error.is_none() {
            let b = data[i];
            match &mut self.state {
                Xl::Pjl | Xl::Done => {
                    i += 1;
                    if b == b'\n' || self.line.len() > 256 {
                        self.line.clear();
                    } else {
                        self.line.push(b);
                        // The stream header starts with its binding: ')' little endian.
                        if self.line == b")" || self.line == b"(" {
                            self.little_endian = b == b')';
                            self.state = Xl::StreamHeader;
                        }
                    }
                }
                Xl::StreamHeader => {
                    i += 1;
                    if b == b'\n' {
                        self.line.clear();
                        self.state = Xl::Tag;
                    }
                }
                Xl::Skip(n) => {
                    let take = (*n).min((data.len() - i) as u64);
                    i += take as usize;
                    *n -= take;
                    if *n == 0 {
                        self.state = Xl::Tag;
                    }
                }
                Xl::ArrayLength(size) => {
                    let size = *size;
                    i += 1;
                    let len = match b {
                        0xC0 => 1,
                        0xC1 => 2,
                        _ => {
                            self.error = Some(format!("array length of type {b:#04x}"));
                            return;
                        }
                    };
                    self.state = Xl::Number {
                        len,
                        got: 0,
                        value: 0,
                        then: Then::Array(size),
                    };
                }
                Xl::Number {
                    len,
                    got,
                    value,
                    then,
                } => {
                    i += 1;
                    let shift = if self.little_endian {
                        8 * u32::from(*got)
                    } else {
                        8 * u32::from(*len - *got - 1)
                    };
                    *value |= u64::from(b) << shift;
                    *got += 1;
                    if *got == *len {
                        let skip = match *then {
                            Then::Array(size) => *value * size,
                            Then::Data => *value,
                        };
                        self.state = if skip == 0 { Xl::Tag } else { Xl::Skip(skip) };
                    }
                }
                Xl::Tag => {
                    i += 1;
                    self.state = match b {
                        // White space between tokens.
                        0x00 | 0x09..=0x0D | 0x20 => Xl::Tag,
                        // Universal Exit Language: back to PJL.
                        0x1B => Xl::Done,
                        0x43 => {
                            self.begin += 1;
                            Xl::Tag
                        }
                        0x44 => {
                            self.end += 1;
                            Xl::Tag
                        }
                        0x41..=0xBF => Xl::Tag,
                        0xC0..=0xC5 => Xl::Skip(xl_size(b).unwrap_or(1)),
                        0xC8..=0xCD => Xl::ArrayLength(xl_size(b).unwrap_or(1)),
                        0xD0..=0xD5 => Xl::Skip(2 * xl_size(b).unwrap_or(1)),
                        0xE0..=0xE5 => Xl::Skip(4 * xl_size(b).unwrap_or(1)),
                        0xF8 => Xl::Skip(1),
                        0xF9 => Xl::Skip(2),
                        0xFA => Xl::Number {
                            len: 4,
                            got: 0,
                            value: 0,
                            then: Then::Data,
                        },
                        0xFB => Xl::Number {
                            len: 1,
                            got: 0,
                            value: 0,
                            then: Then::Data,
                        },
                        _ => {
                            self.error = Some(format!("unknown PCL XL tag {b:#04x}"));
                            return;
                        }
                    };
                }
            }
        }
    }

    fn finish(self: Box<Self>) -> Count {
        let mut error = self.error;
        if error.is_none() && !matches!(self.state, Xl::Done | Xl::Pjl) {
            error = Some("stream ends inside PCL XL (no Universal Exit Language)".into());
        }
        if error.is_none() && self.begin != self.end {
            error = Some(format!("{} BeginPage but {} EndPage", self.begin, self.end));
        }
        Count {
            pages: self.begin,
            first_page: None,
            error,
        }
    }
}
