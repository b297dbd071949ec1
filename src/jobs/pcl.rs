//! PCL, best effort: pages counted as the bytes pass, for PCL 5 (form feeds and
//! `ESC &l0H` page ejects outside binary data) and PCL XL (`EndPage` operators, with
//! every data type, array and embedded data block skipped by its declared size),
//! switching between them and PJL on the Universal Exit Language. Another language
//! behind PJL (PostScript, PDF) leaves the count unknown.

const ESC: u8 = 0x1B;
const FORM_FEED: u8 = 0x0C;
/// PCL XL `EndPage` operator.
const XL_END_PAGE: u8 = 0x44;
/// Longest PJL or PCL XL header line kept for inspection.
const MAX_LINE: usize = 256;

#[derive(Debug, Clone, Copy)]
enum Pcl5 {
    Text,
    Escape,
    /// A parameterized escape sequence: `ESC <first> [group] (value param)*`.
    Param {
        first: u8,
        group: Option<u8>,
        value: u64,
        negative: bool,
        fraction: bool,
    },
    /// Binary data that follows `…W` (raster rows, fonts) or `ESC &p#X`.
    Binary(u64),
}

#[derive(Debug, Clone, Copy)]
enum Xl {
    Tag,
    /// Bytes to skip (values, arrays, embedded data).
    Skip(u64),
    /// An array's element size, waiting for the tag of its length.
    ArrayLengthTag(u64),
    /// Reading a little/big-endian number of `len` bytes; then `then` decides.
    Number {
        len: u8,
        got: u8,
        value: u64,
        then: AfterNumber,
    },
}

#[derive(Debug, Clone, Copy)]
enum AfterNumber {
    /// An array length: skip length × element size.
    Array(u64),
    /// An embedded data length: skip that many bytes.
    Data,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Pcl5(Pcl5),
    Pjl,
    XlHeader,
    Xl(Xl),
    /// A language we do not count (PostScript or PDF behind PJL, malformed XL).
    Other(&'static str),
}

#[derive(Debug)]
pub struct PclScan {
    mode: Mode,
    line: Vec<u8>,
    little_endian: bool,
    pages: i64,
}

impl Default for PclScan {
    fn default() -> Self {
        Self {
            mode: Mode::Pcl5(Pcl5::Text),
            line: Vec::new(),
            little_endian: true,
            pages: 0,
        }
    }
}

/// Bytes of a PCL XL data type by the low bits of its tag: ubyte, uint16, uint32,
/// sint16, sint32, real32.
fn xl_size(tag: u8) -> Option<u64> {
    [1, 2, 4, 2, 4, 4].get(usize::from(tag & 0x0F)).copied()
}

impl PclScan {
    pub fn feed(&mut self, data: &[u8]) {
        let mut i = 0;
        while i < data.len() {
            // Bulk skips first: binary data can be most of the document.
            match &mut self.mode {
                Mode::Pcl5(Pcl5::Binary(n)) | Mode::Xl(Xl::Skip(n)) => {
                    let take = (*n).min((data.len() - i) as u64);
                    *n -= take;
                    i += take as usize;
                    if *n == 0 {
                        self.mode = match self.mode {
                            Mode::Xl(_) => Mode::Xl(Xl::Tag),
                            _ => Mode::Pcl5(Pcl5::Text),
                        };
                    }
                    continue;
                }
                Mode::Other(_) => return,
                _ => {}
            }
            self.byte(data[i]);
            i += 1;
        }
    }

    fn byte(&mut self, b: u8) {
        self.mode = match self.mode {
            Mode::Pcl5(state) => self.pcl5(state, b),
            Mode::Pjl => self.pjl(b),
            Mode::XlHeader => {
                if self.line.is_empty() {
                    self.little_endian = b != b'(';
                }
                if b == b'\n' {
                    self.line.clear();
                    Mode::Xl(Xl::Tag)
                } else {
                    self.keep(b);
                    Mode::XlHeader
                }
            }
            Mode::Xl(state) => self.xl(state, b),
            other => other,
        };
    }

    fn keep(&mut self, b: u8) {
        if self.line.len() < MAX_LINE {
            self.line.push(b);
        }
    }

    fn pcl5(&mut self, state: Pcl5, b: u8) -> Mode {
        let next = match state {
            Pcl5::Text => match b {
                ESC => Pcl5::Escape,
                FORM_FEED => {
                    self.pages += 1;
                    Pcl5::Text
                }
                _ => Pcl5::Text,
            },
            Pcl5::Escape => match b {
                0x21..=0x2F => Pcl5::Param {
                    first: b,
                    group: None,
                    value: 0,
                    negative: false,
                    fraction: false,
                },
                _ => Pcl5::Text,
            },
            Pcl5::Param {
                first,
                group,
                value,
                negative,
                fraction,
            } => {
                let next = |value, negative, fraction| Pcl5::Param {
                    first,
                    group,
                    value,
                    negative,
                    fraction,
                };
                match b {
                    // `ESC %` takes no group character.
                    0x60..=0x7E if group.is_none() && first != b'%' => Pcl5::Param {
                        first,
                        group: Some(b),
                        value,
                        negative,
                        fraction,
                    },
                    b'0'..=b'9' if fraction => next(value, negative, true),
                    b'0'..=b'9' => next(
                        value.saturating_mul(10).saturating_add(u64::from(b - b'0')),
                        negative,
                        false,
                    ),
                    b'+' => next(value, false, fraction),
                    b'-' => next(value, true, fraction),
                    b'.' => next(value, negative, true),
                    // A parameter of a combined sequence: more follow.
                    0x60..=0x7E => {
                        self.parameter(first, group, b.to_ascii_uppercase(), value);
                        next(0, false, false)
                    }
                    0x40..=0x5E => {
                        self.parameter(first, group, b, value);
                        match (first, group, b) {
                            // Data follows W, `&p#X` and the colour lasers' plane
                            // transfer `*b#V` (issue 17: cljet5 output).
                            (_, _, b'W') | (b'&', Some(b'p'), b'X') | (b'*', Some(b'b'), b'V') => {
                                Pcl5::Binary(value)
                            }
                            (b'%', None, b'X') if negative && value == 12345 => {
                                // Universal Exit Language: PJL follows.
                                self.line.clear();
                                return Mode::Pjl;
                            }
                            _ => Pcl5::Text,
                        }
                    }
                    _ => Pcl5::Text,
                }
            }
            Pcl5::Binary(n) => Pcl5::Binary(n),
        };
        Mode::Pcl5(next)
    }

    fn parameter(&mut self, first: u8, group: Option<u8>, param: u8, value: u64) {
        // `ESC &l0H`: eject the page.
        if first == b'&' && group == Some(b'l') && param == b'H' && value == 0 {
            self.pages += 1;
        }
    }

    fn pjl(&mut self, b: u8) -> Mode {
        match b {
            // PCL 5 starts without ENTER LANGUAGE (reset or another UEL).
            ESC if self.line.is_empty() => Mode::Pcl5(Pcl5::Escape),
            b'\n' => {
                let line = String::from_utf8_lossy(&self.line).to_ascii_uppercase();
                self.line.clear();
                match line.split_once("ENTER LANGUAGE") {
                    Some((_, rest)) => {
                        let language = rest.trim_start_matches([' ', '=']).trim();
                        if language.starts_with("PCLXL") {
                            Mode::XlHeader
                        } else if language.starts_with("PCL") {
                            Mode::Pcl5(Pcl5::Text)
                        } else {
                            Mode::Other("a language behind PJL that is not PCL")
                        }
                    }
                    None => Mode::Pjl,
                }
            }
            b'\r' => Mode::Pjl,
            _ => {
                self.keep(b);
                Mode::Pjl
            }
        }
    }

    fn xl(&mut self, state: Xl, b: u8) -> Mode {
        let xl = match state {
            Xl::Tag => match b {
                XL_END_PAGE => {
                    self.pages += 1;
                    Xl::Tag
                }
                // The Universal Exit Language ends the XL stream.
                ESC => return Mode::Pcl5(Pcl5::Escape),
                0xC0..=0xC5 => Xl::Skip(xl_size(b).unwrap_or(1)),
                0xC8..=0xCD => Xl::ArrayLengthTag(xl_size(b - 8).unwrap_or(1)),
                0xD0..=0xD5 => Xl::Skip(2 * xl_size(b).unwrap_or(1)),
                0xE0..=0xE5 => Xl::Skip(4 * xl_size(b).unwrap_or(1)),
                0xF8 => Xl::Skip(1),
                0xF9 => Xl::Skip(2),
                0xFA => Xl::Number {
                    len: 4,
                    got: 0,
                    value: 0,
                    then: AfterNumber::Data,
                },
                0xFB => Xl::Number {
                    len: 1,
                    got: 0,
                    value: 0,
                    then: AfterNumber::Data,
                },
                _ => Xl::Tag,
            },
            Xl::ArrayLengthTag(element) => match b {
                0xC0 | 0xC1 => Xl::Number {
                    len: if b == 0xC0 { 1 } else { 2 },
                    got: 0,
                    value: 0,
                    then: AfterNumber::Array(element),
                },
                _ => return Mode::Other("malformed PCL XL array"),
            },
            Xl::Number {
                len,
                got,
                value,
                then,
            } => {
                let value = if self.little_endian {
                    value | (u64::from(b) << (8 * got))
                } else {
                    (value << 8) | u64::from(b)
                };
                if got + 1 < len {
                    Xl::Number {
                        len,
                        got: got + 1,
                        value,
                        then,
                    }
                } else {
                    let skip = match then {
                        AfterNumber::Array(element) => value.saturating_mul(element),
                        AfterNumber::Data => value,
                    };
                    if skip == 0 { Xl::Tag } else { Xl::Skip(skip) }
                }
            }
            Xl::Skip(n) => Xl::Skip(n),
        };
        Mode::Xl(xl)
    }

    pub fn result(self) -> (Option<i64>, Option<bool>, Option<String>) {
        match self.mode {
            Mode::Other(why) => (None, None, Some(format!("PCL: {why}"))),
            _ if self.pages > 0 => (Some(self.pages), None, None),
            _ => (None, None, Some("PCL without page ejects".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(bytes: &[u8], piece: usize) -> (Option<i64>, Option<String>) {
        let mut scan = PclScan::default();
        for chunk in bytes.chunks(piece) {
            scan.feed(chunk);
        }
        let (pages, _, warning) = scan.result();
        (pages, warning)
    }

    #[test]
    fn form_feeds_inside_raster_data_are_not_pages() {
        // Two pages; the raster row holds form feeds that must be skipped.
        let mut pcl = b"\x1bE\x1b&l26A\x1b*r1A\x1b*b4W\x0c\x0c\x0c\x0c\x1b*rB\x0c".to_vec();
        pcl.extend_from_slice(b"\x1b*b2W\x0c\x0c\x0c\x1b&l0H\x1bE");
        for piece in [1, 3, 1000] {
            assert_eq!(count(&pcl, piece).0, Some(3), "piece {piece}");
        }
    }

    #[test]
    fn plane_data_of_colour_lasers_is_skipped() {
        // `ESC*b#V` carries a plane's data like `W` does (cljet5 output; issue 17).
        let pcl = b"\x1bE\x1b*r1A\x1b*b3V\x0c\x0c\x0c\x1b*b2W\x0c\x0c\x1b*rC\x0c\x1bE".to_vec();
        for piece in [1, 4, 1000] {
            assert_eq!(count(&pcl, piece).0, Some(1), "piece {piece}");
        }
    }

    #[test]
    fn pjl_then_pcl_xl_counts_end_page_operators() {
        let mut xl =
            b"\x1b%-12345X@PJL JOB\r\n@PJL ENTER LANGUAGE = PCLXL\n) HP-PCL XL;2;0\n".to_vec();
        for _ in 0..2 {
            // BeginPage, a uint16 array of 3 holding 0x44, embedded data with 0x44s, EndPage.
            xl.extend_from_slice(&[0x43, 0xC9, 0xC0, 3, 0x44, 0, 0x44, 0, 0x44, 0]);
            xl.extend_from_slice(&[0xFA, 4, 0, 0, 0, 0x44, 0x44, 0x44, 0x44, 0x44]);
        }
        xl.extend_from_slice(b"\x1b%-12345X@PJL EOJ\n");
        for piece in [1, 7, 1000] {
            assert_eq!(count(&xl, piece).0, Some(2), "piece {piece}");
        }
    }

    #[test]
    fn postscript_behind_pjl_is_not_counted() {
        let ps = b"\x1b%-12345X@PJL ENTER LANGUAGE=POSTSCRIPT\n%!PS\nshowpage\x0c";
        let (pages, warning) = count(ps, 5);
        assert_eq!(pages, None);
        assert!(warning.unwrap().contains("not PCL"));
    }
}
