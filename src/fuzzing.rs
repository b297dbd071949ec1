//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz, nightly) and for the replay
//! of their committed corpus in `tests/all/fuzz_replay.rs` (stable, part of the test command).
//!
//! Each `pub fn <target>(data: &[u8])` drives one parser that reads bytes a stranger,
//! a printer or a document author chose, through the same functions the server uses.
//! None may panic on any input: a panic here is a finding. Besides "no panic", a few
//! targets check a property that must hold for every input (what we decode we can
//! encode and decode again; an analysis does not depend on how the bytes were split).
//!
//! Everything here is in memory: no socket, no database, no child process.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt, TryStreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::ipp::wire::{self, Limits};
use crate::jobs::analyse::{Analysis, Analyzer, AnalyzingReader};

thread_local! {
    /// One single-threaded runtime per fuzzing thread: building one per input would
    /// cost more than most inputs take to parse.
    static RUNTIME: Option<tokio::runtime::Runtime> = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .ok();
}

fn block_on<F: std::future::Future>(future: F) -> Option<F::Output> {
    RUNTIME.with(|rt| rt.as_ref().map(|rt| rt.block_on(future)))
}

/// A chunk size from 1 to 64 taken from the input, so that the same bytes also arrive
/// split at every boundary the fuzzer cares to try.
fn step_of(data: &[u8]) -> usize {
    data.iter().fold(0usize, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(usize::from(*b))
    }) % 64
        + 1
}

// --- IPP requests -------------------------------------------------------------------

/// An IPP request as a client sends it: the wire decoder with the server's limits, the
/// checks every request gets, the job template checks; then what was decoded is encoded
/// and must decode again to the same message.
pub fn ipp_request(data: &[u8]) {
    let mut reader = data;
    // An in-memory reader never waits, so the decoder finishes in one poll.
    let Some(Ok(message)) = wire::read_message(&mut reader, Limits::default()).now_or_never()
    else {
        return;
    };
    // The seeds address the queue as ipp://localhost:631/ipp/print.
    let _ = crate::ipp::reply::check_request(&message, &["ipp://localhost:631/ipp/print"]);
    let _ = crate::web::ipp::queue::template::submission(&message);
    let encoded = wire::encode(&message);
    let again = wire::read_message(&mut encoded.as_slice(), Limits::default()).now_or_never();
    match again {
        Some(Ok(again)) => assert_eq!(again, message, "decode(encode(m)) != m"),
        #[allow(clippy::panic, reason = "a fuzz target reports a finding by panicking")]
        other => panic!("a decoded request does not decode once encoded: {other:?}"),
    }
}

// --- the IPP client's HTTP response reader ------------------------------------------

/// A connection to a printer that answers with fixed bytes, `step` at a time, and
/// swallows whatever is written to it.
struct Canned {
    data: Vec<u8>,
    at: usize,
    step: usize,
}

impl AsyncRead for Canned {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self
            .step
            .min(buf.remaining())
            .min(self.data.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.data[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Canned {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A printer's answer to a request: the HTTP reader of the IPP client (status line,
/// interim answers, chunked or sized body, caps), the bytes arriving in small reads;
/// a body it accepts goes through the IPP decoder as the client does.
pub fn ipp_client_response(data: &[u8]) {
    let mut io = Canned {
        data: data.to_vec(),
        at: 0,
        step: step_of(data) * 97,
    };
    let answer = block_on(crate::ipp::client::http::read_response(
        &mut io,
        Duration::from_secs(10),
    ));
    if let Some(Ok((_, body))) = answer {
        let _ = wire::read_message(&mut body.as_slice(), Limits::default()).now_or_never();
    }
}

// --- document analysis --------------------------------------------------------------

/// Feeds the document whole, then again in pieces; both must give the same analysis
/// (a network read size must not change a page count).
fn analyse_both_ways(document: &[u8]) -> Analysis {
    let mut whole = Analyzer::default();
    whole.feed(document);
    let whole = whole.finish();
    let mut pieces = Analyzer::default();
    for piece in document.chunks(step_of(document)) {
        pieces.feed(piece);
    }
    let pieces = pieces.finish();
    assert_eq!(
        whole, pieces,
        "the analysis depends on how the bytes were split"
    );
    // The reader the intake uses, over the same bytes.
    let mut reader = AnalyzingReader::new(document, u64::MAX);
    let mut sink = Vec::new();
    if let Some(Ok(_)) = tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut sink).now_or_never()
    {
        assert_eq!(reader.analyzer.finish(), whole);
    }
    whole
}

/// `data` behind `magic` unless it already starts with it, so the sniffer picks the
/// format under test and the fuzzer need not find the signature first.
fn with_magic(magic: &[u8], data: &[u8]) -> Vec<u8> {
    if data.starts_with(magic) {
        data.to_vec()
    } else {
        [magic, data].concat()
    }
}

/// A PDF: the streaming scan, and the full parse the PDF worker runs (in a child
/// process in the server; here in-process, on the same function).
pub fn analyse_pdf(data: &[u8]) {
    let document = with_magic(b"%PDF-", data);
    analyse_both_ways(&document);
    let _ = crate::jobs::pdf::analyse_pdf(&document);
}

/// PCL 5, PJL and PCL XL (the scan switches between them on the Universal Exit Language).
pub fn analyse_pcl(data: &[u8]) {
    let magic: &[u8] = if data.first().is_some_and(|b| b & 1 == 1) {
        b"\x1b%-12345X"
    } else {
        b"\x1bE"
    };
    let document = if data.starts_with(b"\x1b%-12345X") || data.starts_with(b"\x1bE") {
        data.to_vec()
    } else {
        with_magic(magic, data)
    };
    analyse_both_ways(&document);
}

/// PostScript (DSC comments).
pub fn analyse_postscript(data: &[u8]) {
    analyse_both_ways(&with_magic(b"%!", data));
}

/// PWG raster and Apple URF (page headers at offsets the headers themselves give).
pub fn analyse_raster(data: &[u8]) {
    let document = if data.starts_with(b"RaS2") || data.starts_with(b"UNIRAST\0") {
        data.to_vec()
    } else if data.first().is_some_and(|b| b & 1 == 1) {
        with_magic(b"UNIRAST\0", data)
    } else {
        with_magic(b"RaS2", data)
    };
    analyse_both_ways(&document);
}

// --- the portal's multipart upload --------------------------------------------------

/// An upload form as a browser posts it: the first line of `data` is the Content-Type
/// header, the rest the body (arriving in small pieces). Each part goes through the
/// portal's field handling (`web::multipart::text_field`, `drain`, the file name and
/// declared type); a file's bytes go through the intake's analysing reader.
pub fn multipart_upload(data: &[u8]) {
    let _ = upload_parts(data);
}

/// The parts read, by name, with a file's analysed size (tests check the seeds go deep).
fn upload_parts(data: &[u8]) -> Vec<(String, u64)> {
    use crate::web::multipart as portal;
    use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

    let (content_type, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&b"multipart/form-data; boundary=x"[..], data),
    };
    let Ok(content_type) = HeaderValue::from_bytes(content_type) else {
        return Vec::new();
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, content_type);
    let pieces: Vec<Result<bytes::Bytes, actix_web::error::PayloadError>> = body
        .chunks(step_of(body))
        .map(|piece| Ok(bytes::Bytes::copy_from_slice(piece)))
        .collect();
    // As the portal opens it (the boundary checked first).
    let Ok(mut form) = portal::upload_form(&headers, futures_util::stream::iter(pieces)) else {
        return Vec::new();
    };
    // The body is all in memory, so every poll is ready; polled once, a Pending is a
    // stall. actix-multipart 0.7.2 stalls so on a part whose bytes end in a lone CR
    // at the end of the body (fuzz/regressions/multipart_upload/lone-cr-at-eof): it
    // waits for more bytes that cannot come. That ends the input here; in the server
    // only the connection's time-outs end such a request.
    let read = async move {
        let mut parts = Vec::new();
        while let Ok(Some(mut field)) = form.try_next().await {
            let name = field.name().unwrap_or_default().to_owned();
            let mut size = 0;
            let outcome = match name.as_str() {
                "csrf" | "copies" | "sides" | "color_mode" => {
                    portal::text_field(&mut field).await.map(drop)
                }
                "files" => {
                    let filename = field
                        .content_disposition()
                        .and_then(|cd| cd.get_filename())
                        // As the portal cleans it (control characters out, 255 at most).
                        .map(|f| {
                            f.chars()
                                .filter(|c| !c.is_control())
                                .take(255)
                                .collect::<String>()
                        })
                        .unwrap_or_default();
                    let _declared = field.content_type().map(|m| m.essence_str().to_owned());
                    if filename.is_empty() {
                        portal::drain(&mut field).await
                    } else {
                        let mut body = (&mut field).fuse();
                        let stream = (&mut body).map_err(|e| std::io::Error::other(e.to_string()));
                        let mut reader = AnalyzingReader::new(
                            tokio_util::io::StreamReader::new(stream),
                            1 << 20,
                        );
                        let mut sink = tokio::io::sink();
                        let copied = tokio::io::copy(&mut reader, &mut sink).await;
                        let _ = reader.analyzer.finish();
                        size = reader.bytes;
                        match copied {
                            Ok(_) => Ok(()),
                            // Refused (too large): the portal drains the rest.
                            Err(_) => portal::drain(&mut body).await,
                        }
                    }
                }
                _ => portal::drain(&mut field).await,
            };
            if outcome.is_err() {
                break;
            }
            parts.push((name, size));
        }
        parts
    };
    read.now_or_never().unwrap_or_default()
}

// --- SNMP answers into a device record: `fuzzing/snmp.rs` ---------------------------

mod snmp;
pub use snmp::snmp_record;
#[cfg(test)]
use snmp::snmp_report;

#[cfg(test)]
mod tests {
    //! The seeds must reach the code under test, not stop at the first check.
    use super::*;

    fn seed(target: &str, name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target)
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn ipp_seeds_decode_and_pass_the_request_checks() {
        for name in [
            "print-job",
            "get-printer-attributes",
            "get-jobs",
            "cancel-job",
        ] {
            let data = seed("ipp_request", name);
            let message = wire::read_message(&mut data.as_slice(), Limits::default())
                .now_or_never()
                .unwrap()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            crate::ipp::reply::check_request(&message, &["ipp://localhost:631/ipp/print"]).unwrap();
        }
    }

    #[test]
    fn client_answers_are_read_whole() {
        for name in ["sized", "chunked", "to-close"] {
            let data = seed("ipp_client_response", name);
            let mut io = Canned {
                data,
                at: 0,
                step: 5,
            };
            let answer = block_on(crate::ipp::client::http::read_response(
                &mut io,
                Duration::from_secs(10),
            ))
            .unwrap();
            let Ok((code, body)) = answer else {
                panic!("{name}: not read");
            };
            assert_eq!(code, 200, "{name}");
            assert!(
                wire::read_message(&mut body.as_slice(), Limits::default())
                    .now_or_never()
                    .unwrap()
                    .is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn upload_form_parts_are_all_read() {
        let parts = upload_parts(&seed("multipart_upload", "form"));
        let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "csrf",
                "copies",
                "sides",
                "color_mode",
                "other",
                "files",
                "files"
            ]
        );
        assert_eq!(parts[5].1, 600);
    }

    #[test]
    fn snmp_seeds_make_printer_records() {
        let report = snmp_report(&seed("snmp_record", "mono-laser.ber")).unwrap();
        assert!(report.is_printer);
        assert!(!report.model.is_empty());
        assert!(!report.supplies.is_empty());
        let report = snmp_report(&seed("snmp_record", "structured-printer")).unwrap();
        assert!(report.is_printer);
        assert_eq!(report.model, "HP LaserJet");
        assert_eq!(report.mac.as_deref(), Some("00:80:77:4a:10:01"));
    }

    #[test]
    fn analysis_seeds_are_recognised() {
        let mut a = Analyzer::default();
        a.feed(&seed("analyse_raster", "urf"));
        assert_eq!(a.finish().pages, Some(2));
    }
}
