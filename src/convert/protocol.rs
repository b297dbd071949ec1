//! The pipe between the server ([`super::Converter`]) and a `printpark convert` worker.
//!
//! Server → worker, on the worker's stdin:
//! - one header line, `printpark-convert/1` then `key=value` fields separated by
//!   spaces (`op`, `from`, `to`, `gray`, `duplex`, `dpi`, `media`, `pages`); values
//!   never hold spaces (MIME types, numbers, PWG media keywords, `1-3,7`);
//! - the document in frames: a 4-byte big-endian length, then that many bytes; a
//!   zero length ends the document.
//!
//! Worker → server, on its stdout, frames of a 1-byte kind, a 4-byte big-endian
//! length and the payload ([`Frame`]). The worker sends `Go` once the output may be
//! handed to a printer (the first page rendered, or the whole document for outputs
//! written at the end), data only after it, and ends with `End` or `Error`.

use std::io::{Read, Write};

use super::{Duplex, Format, Spec};

/// The header line's first word (a version, should the protocol change).
pub const MAGIC: &str = "printpark-convert/1";
/// Longest header line the worker reads.
pub const MAX_HEADER: usize = 4096;
/// Largest frame either side sends or accepts.
pub const MAX_FRAME: usize = 1024 * 1024;
/// The size of the data frames the worker sends and the input frames the server sends.
pub const CHUNK: usize = 64 * 1024;

/// What the worker is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Convert(Spec),
    /// Count the pages of a document of this format.
    Count(Format),
}

/// One frame from the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Output bytes.
    Data(Vec<u8>),
    /// A page of the document started rendering (its number in the document).
    PageStarted(u32),
    /// A page of the document is rendered (its number in the document).
    PageDone(u32),
    /// The output may go to the printer from now on.
    Go,
    /// The conversion failed; `page` when the renderer said which.
    Error { page: Option<u32>, reason: String },
    /// The conversion is complete: pages in the output.
    End(u32),
    /// The answer to a count: pages in the document.
    Count(u32),
}

impl Frame {
    fn kind(&self) -> u8 {
        match self {
            Frame::Data(_) => b'D',
            Frame::PageStarted(_) => b'S',
            Frame::PageDone(_) => b'F',
            Frame::Go => b'G',
            Frame::Error { .. } => b'E',
            Frame::End(_) => b'Z',
            Frame::Count(_) => b'C',
        }
    }

    /// The frame as bytes (kind, length, payload).
    pub fn encode(&self) -> Vec<u8> {
        let payload: Vec<u8> = match self {
            Frame::Data(bytes) => bytes.clone(),
            Frame::PageStarted(n) | Frame::PageDone(n) | Frame::End(n) | Frame::Count(n) => {
                n.to_be_bytes().to_vec()
            }
            Frame::Go => Vec::new(),
            Frame::Error { page, reason } => {
                let mut p = page.unwrap_or(0).to_be_bytes().to_vec();
                // A reason is a few lines; the cap keeps it inside one frame.
                let reason: String = reason.chars().take(4000).collect();
                p.extend_from_slice(reason.as_bytes());
                p
            }
        };
        let mut out = Vec::with_capacity(5 + payload.len());
        out.push(self.kind());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// A frame from its kind and payload; `None` for anything malformed.
    pub fn decode(kind: u8, payload: Vec<u8>) -> Option<Frame> {
        let number = |p: &[u8]| -> Option<u32> { Some(u32::from_be_bytes(p.try_into().ok()?)) };
        Some(match kind {
            b'D' => Frame::Data(payload),
            b'S' => Frame::PageStarted(number(&payload)?),
            b'F' => Frame::PageDone(number(&payload)?),
            b'G' if payload.is_empty() => Frame::Go,
            b'E' if payload.len() >= 4 => {
                let page = number(&payload[..4])?;
                Frame::Error {
                    page: (page > 0).then_some(page),
                    reason: String::from_utf8_lossy(&payload[4..]).into_owned(),
                }
            }
            b'Z' => Frame::End(number(&payload)?),
            b'C' => Frame::Count(number(&payload)?),
            _ => return None,
        })
    }
}

/// The header line (with its newline) for a job.
pub fn encode_header(job: &Job) -> String {
    let mut line = String::from(MAGIC);
    match job {
        Job::Count(from) => {
            line.push_str(&format!(" op=count from={}", from.mime()));
        }
        Job::Convert(spec) => {
            line.push_str(&format!(
                " op=convert from={} to={} gray={} duplex={} dpi={}",
                spec.from.mime(),
                spec.to.mime(),
                u8::from(spec.gray),
                match spec.duplex {
                    Duplex::OneSided => "one",
                    Duplex::LongEdge => "long",
                    Duplex::ShortEdge => "short",
                },
                spec.dpi
            ));
            if let Some(media) = &spec.media {
                // A keyword is [a-z0-9_.-]; anything else would break the line.
                let clean: String = media
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                    .collect();
                if !clean.is_empty() {
                    line.push_str(&format!(" media={clean}"));
                }
            }
            if let Some(ranges) = &spec.page_ranges {
                let list: Vec<String> = ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect();
                line.push_str(&format!(" pages={}", list.join(",")));
            }
        }
    }
    line.push('\n');
    line
}

/// The job a header line describes.
pub fn decode_header(line: &str) -> Result<Job, String> {
    let mut words = line.split_whitespace();
    if words.next() != Some(MAGIC) {
        return Err("not a conversion header".into());
    }
    let mut op = None;
    let mut from = None;
    let mut to = None;
    let mut gray = false;
    let mut duplex = Duplex::OneSided;
    let mut dpi = super::DEFAULT_DPI;
    let mut media = None;
    let mut pages = None;
    for word in words {
        let (key, value) = word
            .split_once('=')
            .ok_or_else(|| format!("bad field {word:?}"))?;
        let format = || Format::from_mime(value).ok_or_else(|| format!("unknown format {value}"));
        match key {
            "op" => op = Some(value.to_owned()),
            "from" => from = Some(format()?),
            "to" => to = Some(format()?),
            "gray" => gray = value == "1",
            "duplex" => {
                duplex = match value {
                    "long" => Duplex::LongEdge,
                    "short" => Duplex::ShortEdge,
                    _ => Duplex::OneSided,
                }
            }
            "dpi" => {
                dpi = value
                    .parse()
                    .ok()
                    .filter(|d| (50..=1200).contains(d))
                    .ok_or_else(|| format!("bad resolution {value}"))?
            }
            "media" => media = Some(value.to_owned()),
            "pages" => pages = Some(parse_ranges(value)?),
            _ => return Err(format!("unknown field {key}")),
        }
    }
    let from = from.ok_or("no input format")?;
    match op.as_deref() {
        Some("count") => Ok(Job::Count(from)),
        Some("convert") => Ok(Job::Convert(Spec {
            from,
            to: to.ok_or("no output format")?,
            gray,
            page_ranges: pages,
            duplex,
            dpi,
            media,
        })),
        _ => Err("no operation".into()),
    }
}

fn parse_ranges(value: &str) -> Result<Vec<(u32, u32)>, String> {
    let mut out = Vec::new();
    for part in value.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a.parse().map_err(|_| format!("bad page range {part}"))?;
        let b: u32 = b.parse().map_err(|_| format!("bad page range {part}"))?;
        if a == 0 || b < a {
            return Err(format!("bad page range {part}"));
        }
        out.push((a, b));
        if out.len() > 100 {
            return Err("too many page ranges".into());
        }
    }
    Ok(out)
}

/// Writes one frame (blocking; the worker's side).
pub fn write_frame(out: &mut impl Write, frame: &Frame) -> std::io::Result<()> {
    out.write_all(&frame.encode())?;
    out.flush()
}

/// Reads one input frame (blocking; the worker's side): `None` at the end marker.
pub fn read_input_frame(input: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<Option<()>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 {
        return Ok(None);
    }
    if len > MAX_FRAME {
        return Err(std::io::Error::other("input frame too large"));
    }
    buf.resize(len, 0);
    input.read_exact(buf)?;
    Ok(Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let spec = Spec {
            from: Format::Pdf,
            to: Format::PwgRaster,
            gray: true,
            page_ranges: Some(vec![(1, 3), (7, 7)]),
            duplex: Duplex::ShortEdge,
            dpi: 600,
            media: Some("iso_a4_210x297mm".into()),
        };
        let job = Job::Convert(spec);
        assert_eq!(decode_header(&encode_header(&job)), Ok(job));
        let count = Job::Count(Format::Urf);
        assert_eq!(decode_header(&encode_header(&count)), Ok(count));
        assert!(decode_header("printpark-convert/1 op=convert from=application/pdf").is_err());
        assert!(decode_header("x op=count from=application/pdf").is_err());
        assert!(
            decode_header("printpark-convert/1 op=count from=application/pdf pages=3-1").is_err()
        );
    }

    #[test]
    fn frames_round_trip() {
        for frame in [
            Frame::Data(vec![1, 2, 3]),
            Frame::PageStarted(2),
            Frame::PageDone(2),
            Frame::Go,
            Frame::Error {
                page: Some(3),
                reason: "bad".into(),
            },
            Frame::Error {
                page: None,
                reason: "bad".into(),
            },
            Frame::End(4),
            Frame::Count(9),
        ] {
            let bytes = frame.encode();
            let len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
            assert_eq!(len, bytes.len() - 5);
            assert_eq!(Frame::decode(bytes[0], bytes[5..].to_vec()), Some(frame));
        }
    }
}
