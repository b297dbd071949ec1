//! Raw printing ("JetDirect", port 9100): the document bytes and nothing else. The
//! printer reports no status and no job: success means every byte was written.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{DocumentSource, PushError};
use crate::ipp::client::{Timeouts, fill, human_bytes};

const CHUNK: usize = 64 * 1024;

/// `socket://host:port`, with brackets around an IPv6 address.
pub(super) fn uri(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("socket://[{host}]:{port}")
    } else {
        format!("socket://{host}:{port}")
    }
}

pub(super) async fn open(host: &str, port: u16, timeouts: &Timeouts) -> Result<TcpStream, String> {
    match tokio::time::timeout(timeouts.connect, TcpStream::connect((host, port))).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(format!("{}: {e}", uri(host, port))),
        Err(_) => Err(format!(
            "{}: no connection within {:?}",
            uri(host, port),
            timeouts.connect
        )),
    }
}

fn describe(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe => "connection reset".into(),
        _ => e.to_string(),
    }
}

/// What the printer holds once something broke after `sent` bytes.
fn broke(sent: u64, reason: String) -> PushError {
    if sent == 0 {
        PushError::NotSent {
            reason,
            retry_later: false,
        }
    } else {
        PushError::Interrupted {
            bytes_sent: sent,
            reason: format!("{reason} after {}", human_bytes(sent)),
        }
    }
}

/// Writes every document, then closes the sending side and gives the printer up to
/// the write time-out to close its side (many do once the job is taken); a printer
/// that keeps the connection open is not an error: there is nothing more to learn.
pub(super) async fn send(
    mut stream: TcpStream,
    docs: &mut dyn DocumentSource,
    timeouts: &Timeouts,
) -> Result<u64, PushError> {
    let mut buf = vec![0u8; CHUNK];
    let mut sent = 0u64;
    let write = timeouts.write;
    for number in 1..=docs.count() {
        // Opened (converted up to its first page) before anything of it is written.
        let mut reader =
            docs.open(number).await.map_err(|e| {
                match super::converting::open_failure(&e, number) {
                    Ok(why) if sent == 0 => PushError::Refused {
                        reason: why.to_string(),
                    },
                    Ok(why) => broke(sent, why.to_string()),
                    Err(why) => broke(sent, why),
                }
            })?;
        loop {
            let n =
                fill(reader.as_mut(), &mut buf).await.map_err(
                    |e| match super::conversion_failure(&e) {
                        Some(why) if sent == 0 => PushError::Refused {
                            reason: why.to_string(),
                        },
                        Some(why) => broke(sent, why.to_string()),
                        None => broke(sent, format!("reading document {number} failed: {e}")),
                    },
                )?;
            if n == 0 {
                break;
            }
            match tokio::time::timeout(write, stream.write_all(&buf[..n])).await {
                Ok(Ok(())) => sent += n as u64,
                Ok(Err(e)) => return Err(broke(sent, describe(&e))),
                Err(_) => {
                    return Err(broke(
                        sent,
                        format!("the printer stopped reading for {write:?}"),
                    ));
                }
            }
        }
    }
    match tokio::time::timeout(write, async {
        stream.flush().await?;
        stream.shutdown().await
    })
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(broke(sent, describe(&e))),
        Err(_) => {
            return Err(broke(
                sent,
                format!("the printer stopped reading for {write:?}"),
            ));
        }
    }
    let _ = tokio::time::timeout(write.min(Duration::from_secs(30)), async {
        let mut sink = [0u8; 1024];
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    Ok(sent)
}
