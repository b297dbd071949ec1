//! Reading a printer's HTTP answer to one IPP request, bounded in every dimension:
//! a hostile or broken printer gets a clean error, never the server's memory.

use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::{Io, describe};

/// An IPP answer carries attributes only; a printer's full description stays far below.
pub(crate) const MAX_RESPONSE: usize = 8 * 1024 * 1024;
/// A head larger than this is not an HTTP answer.
const MAX_HEAD: usize = 64 * 1024;
/// After a failed write the printer may already have answered (a refusal before the
/// whole document arrived): how long to look for that answer.
const LATE_ANSWER: Duration = Duration::from_secs(2);

/// Why reading an answer failed.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    /// The connection broke or stayed silent.
    Io(String),
    /// Bytes arrived that are not an HTTP answer.
    Malformed(String),
}

/// Reads the answer: skips interim 1xx heads, returns the final status and the body.
///
/// Every number the printer sends (Content-Length, chunk sizes) meets our sizes in
/// checked arithmetic, and the whole answer is bounded: the heads (interim ones
/// included) to `MAX_HEAD` bytes, `MAX_HEADERS` lines and `HEAD_TIME` from their first
/// byte; the body to `MAX_RESPONSE`; everything read off the wire, framing and chunk
/// extensions included, to `MAX_WIRE`; all of it to `timeout`. A hostile printer gets
/// a clean error, never the server's memory.
pub(crate) async fn read_response(
    io: &mut (dyn Io + '_),
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ReadFailure> {
    match tokio::time::timeout(timeout, read_response_inner(io)).await {
        Ok(result) => result,
        Err(_) => Err(ReadFailure::Io(format!("no answer within {timeout:?}"))),
    }
}

/// Like `read_response`, briefly, after a write failed: a refusal the printer sent
/// before closing is still a definitive answer.
pub(crate) async fn read_late_response(io: &mut (dyn Io + '_)) -> Option<(u16, Vec<u8>)> {
    read_response(io, LATE_ANSWER).await.ok()
}

/// Header lines in one head (and trailer lines after a chunked body).
const MAX_HEADERS: usize = 100;
/// From the first byte of the answer to the end of its final head (interim heads
/// included): a printer that dribbles a head byte by byte is not answering.
const HEAD_TIME: Duration = Duration::from_secs(10);
/// A chunk-size line with its extensions.
const MAX_CHUNK_LINE: usize = 1024;
/// Everything read for one answer: heads, body, chunk framing and extensions. Twice
/// the body cap leaves room for any honest framing; beyond it the printer is only
/// making the server read.
const MAX_WIRE: usize = 2 * MAX_RESPONSE + MAX_HEAD;

fn too_large() -> ReadFailure {
    ReadFailure::Malformed(format!("the answer is larger than {} bytes", MAX_RESPONSE))
}

struct Reader<'a> {
    io: &'a mut (dyn Io + 'a),
    buf: Vec<u8>,
    /// Bytes read off the wire so far, against `MAX_WIRE`.
    wire: usize,
}

impl Reader<'_> {
    /// Reads more; false at the end of the stream.
    async fn more(&mut self) -> Result<bool, ReadFailure> {
        let mut chunk = [0u8; 8192];
        let n = self
            .io
            .read(&mut chunk)
            .await
            .map_err(|e| ReadFailure::Io(describe(&e)))?;
        self.wire = self.wire.saturating_add(n);
        if self.wire > MAX_WIRE {
            return Err(ReadFailure::Malformed(format!(
                "the printer sent more than {MAX_WIRE} bytes for one answer"
            )));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// The bytes up to `delimiter` (consumed with it), at most `cap` of them.
    async fn until(&mut self, delimiter: &[u8], cap: usize) -> Result<Vec<u8>, ReadFailure> {
        loop {
            if let Some(at) = find(&self.buf, delimiter) {
                if at > cap {
                    break;
                }
                let line = self.buf[..at].to_vec();
                self.buf.drain(..at + delimiter.len());
                return Ok(line);
            }
            if self.buf.len() > cap {
                break;
            }
            if !self.more().await? {
                return Err(ReadFailure::Io("connection closed".into()));
            }
        }
        Err(ReadFailure::Malformed("an HTTP line is too long".into()))
    }

    /// Exactly `n` bytes; the caller has checked `n` against its cap.
    async fn take(&mut self, n: usize) -> Result<Vec<u8>, ReadFailure> {
        while self.buf.len() < n {
            if !self.more().await? {
                return Err(ReadFailure::Io(
                    "connection closed inside the answer".into(),
                ));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The final status and headers (names lower-cased), past any interim 1xx heads.
async fn read_heads(r: &mut Reader<'_>) -> Result<(u16, Vec<(String, String)>), ReadFailure> {
    // What is left of the head budget, shared by interim heads and the final one.
    let mut budget = MAX_HEAD;
    loop {
        let head = r.until(b"\r\n\r\n", budget).await?;
        budget = budget
            .checked_sub(head.len() + 4)
            .ok_or_else(|| ReadFailure::Malformed("the answer's head is too large".into()))?;
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let code = parse_status_line(status_line)?;
        if (100..200).contains(&code) {
            continue;
        }
        let mut headers = Vec::new();
        for line in lines {
            if headers.len() == MAX_HEADERS {
                return Err(ReadFailure::Malformed(format!(
                    "more than {MAX_HEADERS} header lines"
                )));
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        return Ok((code, headers));
    }
}

/// Content-Length as a size we accept: digits only (no sign, no spaces inside), the
/// same value when repeated, at most `MAX_RESPONSE`.
fn content_length(headers: &[(String, String)]) -> Result<Option<usize>, ReadFailure> {
    let mut found: Option<usize> = None;
    for (_, value) in headers.iter().filter(|(k, _)| k == "content-length") {
        // "Content-Length: 5, 5" is one value said twice (RFC 9110 §8.6).
        for part in value.split(',').map(str::trim) {
            let bad = || ReadFailure::Malformed(format!("Content-Length {part:?}"));
            if part.is_empty() || part.len() > 20 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let n = part.parse::<u64>().map_err(|_| bad())?;
            let n = usize::try_from(n).map_err(|_| too_large())?;
            if n > MAX_RESPONSE {
                return Err(too_large());
            }
            if found.is_some_and(|f| f != n) {
                return Err(ReadFailure::Malformed(
                    "two different Content-Length values".into(),
                ));
            }
            found = Some(n);
        }
    }
    Ok(found)
}

async fn read_response_inner(io: &mut (dyn Io + '_)) -> Result<(u16, Vec<u8>), ReadFailure> {
    let mut r = Reader {
        io,
        buf: Vec::new(),
        wire: 0,
    };
    // The printer may think for long before it answers (the overall time-out bounds
    // that); once it starts, the head must follow promptly.
    if !r.more().await? {
        return Err(ReadFailure::Io(
            "the printer closed the connection without an answer".into(),
        ));
    }
    let (code, headers) = match tokio::time::timeout(HEAD_TIME, read_heads(&mut r)).await {
        Ok(heads) => heads?,
        Err(_) => {
            return Err(ReadFailure::Io(format!(
                "the answer's head took longer than {HEAD_TIME:?}"
            )));
        }
    };
    let transfer_encoding = headers
        .iter()
        .filter(|(k, _)| k == "transfer-encoding")
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(",");
    // Chunked only when it is the last coding applied (RFC 9112 §6.3).
    let chunked = transfer_encoding
        .rsplit(',')
        .next()
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        read_chunked(&mut r).await?
    } else if transfer_encoding.trim().is_empty()
        && let Some(length) = content_length(&headers)?
    {
        r.take(length).await?
    } else {
        // No length: the body ends with the connection.
        while r.more().await? {
            if r.buf.len() > MAX_RESPONSE {
                return Err(too_large());
            }
        }
        std::mem::take(&mut r.buf)
    };
    Ok((code, body))
}

fn parse_status_line(line: &str) -> Result<u16, ReadFailure> {
    let mut parts = line.split(' ');
    let version = parts.next().unwrap_or_default();
    let code = parts
        .next()
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(code) if version.starts_with("HTTP/1.") => Ok(code),
        _ => Err(ReadFailure::Malformed(format!(
            "not an HTTP status line: {:?}",
            line.chars().take(60).collect::<String>()
        ))),
    }
}

/// A chunk-size line's size: 1 to 16 hex digits before any extension, nothing else.
fn chunk_size(line: &[u8]) -> Result<usize, ReadFailure> {
    let line = String::from_utf8_lossy(line);
    let digits = line.split(';').next().unwrap_or_default().trim();
    let bad = || {
        ReadFailure::Malformed(format!(
            "chunk size {:?}",
            digits.chars().take(40).collect::<String>()
        ))
    };
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let size = u64::from_str_radix(digits, 16).map_err(|_| bad())?;
    usize::try_from(size).map_err(|_| too_large())
}

async fn read_chunked(r: &mut Reader<'_>) -> Result<Vec<u8>, ReadFailure> {
    let mut body = Vec::new();
    loop {
        let line = r.until(b"\r\n", MAX_CHUNK_LINE).await?;
        let size = chunk_size(&line)?;
        if size == 0 {
            // Trailers, up to the empty line: as bounded as a head.
            let mut budget = MAX_HEAD;
            for _ in 0..=MAX_HEADERS {
                let trailer = r.until(b"\r\n", budget).await?;
                if trailer.is_empty() {
                    return Ok(body);
                }
                budget = budget
                    .checked_sub(trailer.len() + 2)
                    .ok_or_else(|| ReadFailure::Malformed("the trailers are too large".into()))?;
            }
            return Err(ReadFailure::Malformed(format!(
                "more than {MAX_HEADERS} trailer lines"
            )));
        }
        match body.len().checked_add(size) {
            Some(total) if total <= MAX_RESPONSE => {}
            _ => return Err(too_large()),
        }
        body.extend(r.take(size).await?);
        if r.take(2).await? != b"\r\n" {
            return Err(ReadFailure::Malformed(
                "a chunk does not end with CRLF".into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Reads an answer from a peer that sends `head` and then `tail` over and over
    /// (until the reader gives up); returns the result and the bytes the peer got out.
    async fn answer(
        head: &[u8],
        tail: &'static [u8],
    ) -> (Result<(u16, Vec<u8>), ReadFailure>, usize) {
        let (mut ours, mut theirs) = tokio::io::duplex(64 * 1024);
        let head = head.to_vec();
        let peer = tokio::spawn(async move {
            let mut sent = 0usize;
            if theirs.write_all(&head).await.is_err() {
                return sent;
            }
            sent += head.len();
            while !tail.is_empty() && theirs.write_all(tail).await.is_ok() {
                sent += tail.len();
            }
            sent
        });
        let result = read_response(&mut ours, Duration::from_secs(20)).await;
        drop(ours);
        (result, peer.await.unwrap())
    }

    fn malformed(result: Result<(u16, Vec<u8>), ReadFailure>) -> String {
        match result {
            Err(ReadFailure::Malformed(why)) => why,
            other => panic!("expected a malformed answer, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_plain_chunked_answer_is_read() {
        let (result, _) = answer(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
            b"",
        )
        .await;
        let (code, body) = result.unwrap();
        assert_eq!((code, body.as_slice()), (200, &b"abcde"[..]));
    }

    #[tokio::test]
    async fn a_chunk_size_near_usize_max_is_refused_not_wrapped() {
        let (result, _) = answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nffffffffffffffff\r\n",
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .await;
        assert!(malformed(result).contains("larger than"));
    }

    #[tokio::test]
    async fn chunk_sizes_that_are_not_plain_hex_are_refused() {
        for size in ["+4", "1ffffffffffffffff", "0x4", " ", "4 4"] {
            let head = format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nabcd\r\n0\r\n\r\n"
            );
            let (result, _) = answer(head.as_bytes(), b"").await;
            assert!(malformed(result).contains("chunk size"), "{size}");
        }
    }

    #[tokio::test]
    async fn endless_chunk_extensions_stop_at_the_wire_cap() {
        let (result, sent) = answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"1;padding=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nA\r\n",
        )
        .await;
        assert!(malformed(result).contains("more than"));
        assert!(sent <= MAX_WIRE + 128 * 1024, "{sent}");
    }

    #[tokio::test]
    async fn endless_interim_heads_and_header_lines_are_refused() {
        let (result, sent) = answer(b"", b"HTTP/1.1 100 Continue\r\n\r\n").await;
        assert!(malformed(result).contains("too"));
        assert!(sent <= MAX_HEAD + 128 * 1024, "{sent}");
        let (result, _) = answer(b"HTTP/1.1 200 OK\r\n", b"X-A: b\r\n").await;
        assert!(malformed(result).contains("too"));
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        let (result, _) = answer(many.as_bytes(), b"").await;
        assert!(malformed(result).contains("header lines"));
    }

    #[tokio::test]
    async fn endless_trailers_are_refused() {
        let (result, _) = answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
            b"X-Trailer: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n",
        )
        .await;
        assert!(malformed(result).contains("trailer"));
    }

    #[tokio::test]
    async fn content_lengths_are_checked_not_trusted() {
        for length in [
            "99999999999999999999999999",
            "18446744073709551615",
            "+5",
            "-1",
            "5, 6",
            "9000000",
        ] {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\nabcde");
            let (result, _) = answer(head.as_bytes(), b"").await;
            let why = malformed(result);
            assert!(
                why.contains("Content-Length") || why.contains("larger than"),
                "{length}: {why}"
            );
        }
        let (result, _) =
            answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nabcde", b"").await;
        assert_eq!(result.unwrap().1, b"abcde");
    }

    #[tokio::test]
    async fn an_answer_without_length_stops_at_the_body_cap() {
        let (result, sent) = answer(b"HTTP/1.1 200 OK\r\n\r\n", &[b'x'; 4096]).await;
        assert!(malformed(result).contains("larger than"));
        assert!(sent <= MAX_RESPONSE + 256 * 1024, "{sent}");
    }
}
