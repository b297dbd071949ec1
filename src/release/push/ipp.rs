//! Delivery over IPP and IPPS: Print-Job, or Create-Job and Send-Document.

use std::time::{Duration, Instant};

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::{DocumentSource, Protocol, PushError, PushJob, Sent};
use crate::convert::ConvertError;
use crate::ipp::client::{
    ClientError, Connection, Timeouts, human_bytes, is_success, more_status, new_request,
    status_message, status_name,
};
use crate::ipp::wire::{Attribute, Group, Message, Value, group};
use crate::ipp::{op, status};

/// How long a later document of a job split into several Print-Jobs waits for a
/// printer that holds one job at a time (it answers busy until the previous ends).
const BUSY_PATIENCE: Duration = Duration::from_secs(300);
/// Pause between such attempts, and between polls of a job's state.
pub(super) const POLL: Duration = Duration::from_millis(500);

/// "1-3,7-7" (or "5") as IPP rangeOfInteger values.
pub(super) fn parse_page_ranges(text: &str) -> Result<Vec<(i32, i32)>, String> {
    let bad = || format!("invalid page ranges {text:?}");
    text.split(',')
        .map(|part| {
            let part = part.trim();
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let lo: i32 = lo.trim().parse().map_err(|_| bad())?;
            let hi: i32 = hi.trim().parse().map_err(|_| bad())?;
            if lo < 1 || hi < lo {
                return Err(bad());
            }
            Ok((lo, hi))
        })
        .collect()
}

/// Job template attributes; defaults are left out so printers that lack an option
/// (no duplex unit, no colour) still take a job that does not ask for it.
fn job_template(job: &PushJob) -> Group {
    let mut g = Group::new(group::JOB);
    if job.copies > 1 {
        let copies = i32::try_from(job.copies).unwrap_or(i32::MAX);
        g.push(Attribute::new("copies", Value::Integer(copies)));
    }
    if !job.sides.is_empty() && job.sides != "one-sided" {
        g.push(Attribute::new("sides", Value::keyword(&job.sides)));
    }
    if !job.color_mode.is_empty() && job.color_mode != "auto" {
        g.push(Attribute::new(
            "print-color-mode",
            Value::keyword(&job.color_mode),
        ));
    }
    if let Some(ranges) = job
        .page_ranges
        .as_deref()
        .and_then(|r| parse_page_ranges(r).ok())
    {
        let values = ranges
            .into_iter()
            .map(|(lo, hi)| Value::Range(lo, hi))
            .collect();
        g.push(Attribute::many("page-ranges", values));
    }
    if let Some(media) = &job.media {
        g.push(Attribute::new("media", Value::keyword(media)));
    }
    g
}

fn job_request(operation: u16, uri: &str, job: &PushJob, with_format: bool) -> Message {
    let mut request = new_request(operation, uri, &job.user_name);
    // A printer refuses a job-name over name(MAX): the one sent is shortened.
    request.groups[0].push(Attribute::new(
        "job-name",
        Value::name(&crate::ipp::names::ipp_name(&job.name)),
    ));
    if with_format {
        request.groups[0].push(Attribute::new("document-format", Value::mime(&job.format)));
    }
    let template = job_template(job);
    if !template.attributes.is_empty() {
        request.groups.push(template);
    }
    request
}

fn send_document_request(uri: &str, job: &PushJob, job_id: i32, last: bool) -> Message {
    let mut request = new_request(op::SEND_DOCUMENT, uri, &job.user_name);
    let ops = &mut request.groups[0];
    // RFC 8011 §4.3.1: job-id comes right after printer-uri.
    ops.attributes
        .insert(3, Attribute::new("job-id", Value::Integer(job_id)));
    ops.push(Attribute::new("document-format", Value::mime(&job.format)));
    ops.push(Attribute::new("last-document", Value::Boolean(last)));
    request
}

fn job_id_of(response: &Message) -> Option<i32> {
    response.job_int("job-id")
}

/// A document on its way out that remembers why a conversion failed, so the failure
/// is told with the converter's sentence and sorted by what had left.
struct Watched<'r> {
    inner: &'r mut (dyn AsyncRead + Send + Unpin),
    failure: Option<ConvertError>,
}

impl AsyncRead for Watched<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut *this.inner).poll_read(cx, buf);
        if let Poll::Ready(Err(e)) = &polled
            && let Some(why) = super::conversion_failure(e)
        {
            this.failure = Some(why.clone());
        }
        polled
    }
}

/// What happened so far, to tell "nothing printed" from "part may print".
struct Progress<'a> {
    uri: String,
    pin: Option<String>,
    job: &'a PushJob,
    timeouts: Timeouts,
    bytes: u64,
    /// Documents the printer has taken.
    accepted: u32,
    count: u32,
    job_ids: Vec<i32>,
    /// The last answer was "busy" or "try later".
    busy: bool,
}

impl Progress<'_> {
    /// The printer's refusal of a request, as a push error.
    fn refusal(&self, code: u16, response: &Message) -> PushError {
        let refusal = match code {
            status::SERVICE_UNAVAILABLE
            | more_status::TEMPORARY_ERROR
            | more_status::NOT_ACCEPTING_JOBS
            | more_status::BUSY => PushError::NotSent {
                reason: format!(
                    "the printer cannot take the job now: {}",
                    status_message(response)
                ),
                retry_later: true,
            },
            // ippeveprinter (and CUPS) answer an unsupported format with
            // attributes-or-values-not-supported, naming it in the unsupported group.
            _ if code == status::DOCUMENT_FORMAT_NOT_SUPPORTED
                || response
                    .group(group::UNSUPPORTED)
                    .is_some_and(|g| g.get("document-format").is_some()) =>
            {
                PushError::Refused {
                    reason: format!("printer refused {}", self.job.format),
                }
            }
            _ => PushError::Refused {
                reason: format!("printer refused the job: {}", status_message(response)),
            },
        };
        if self.accepted > 0 {
            self.partial(refusal.reason())
        } else {
            refusal
        }
    }

    /// A failure once the printer already took documents: what it holds may print.
    fn partial(&self, why: &str) -> PushError {
        PushError::Interrupted {
            bytes_sent: self.bytes,
            reason: format!(
                "the printer took {} of {} documents, then: {why}",
                self.accepted, self.count
            ),
        }
    }

    fn failed(&self, error: ClientError) -> PushError {
        let err = match error {
            ClientError::Interrupted { reason, .. } if self.bytes == 0 => PushError::NotSent {
                reason,
                retry_later: false,
            },
            ClientError::Interrupted { reason, .. } => PushError::Interrupted {
                bytes_sent: self.bytes,
                reason: format!("{reason} after {}", human_bytes(self.bytes)),
            },
            ClientError::Unreachable(_) | ClientError::CertificateChanged { .. } => {
                PushError::NotSent {
                    reason: error.to_string(),
                    retry_later: false,
                }
            }
            ClientError::Http(503) => PushError::NotSent {
                reason: "the printer cannot take the job now: HTTP 503".into(),
                retry_later: true,
            },
            ClientError::Http(code) => PushError::Refused {
                reason: format!("printer refused the job: HTTP {code}"),
            },
            ClientError::Ipp { status, message } => PushError::Refused {
                reason: format!(
                    "printer refused the job: {message} ({})",
                    status_name(status)
                ),
            },
            // An answer that cannot be read says nothing about what was taken.
            // (A hostile printer's endless or oversized answer ends here too.)
            ClientError::Protocol(why) => PushError::Interrupted {
                bytes_sent: self.bytes,
                reason: format!(
                    "the printer's answer is malformed ({why}) after the job went out: it may print"
                ),
            },
        };
        match err {
            PushError::Interrupted { .. } => err,
            _ if self.accepted > 0 => self.partial(err.reason()),
            _ => err,
        }
    }

    /// One request on `connection` (or a new one); `Ok` only for a success status.
    async fn exchange(
        &mut self,
        connection: Option<Connection>,
        request: &Message,
        document: Option<&mut (dyn AsyncRead + Send + Unpin)>,
    ) -> Result<Message, PushError> {
        self.busy = false;
        let connection = match connection {
            Some(c) => c,
            None => Connection::open(&self.uri, self.pin.as_deref(), &self.timeouts)
                .await
                .map_err(|e| self.failed(e))?,
        };
        let mut watched = document.map(|inner| Watched {
            inner,
            failure: None,
        });
        let sent = connection
            .send(
                request,
                watched
                    .as_mut()
                    .map(|w| w as &mut (dyn AsyncRead + Send + Unpin)),
            )
            .await;
        let conversion = watched.and_then(|w| w.failure);
        match sent {
            Ok(answer) => {
                self.bytes = self.bytes.saturating_add(answer.bytes_sent);
                let code = answer.response.code;
                self.busy = matches!(
                    code,
                    status::SERVICE_UNAVAILABLE
                        | more_status::TEMPORARY_ERROR
                        | more_status::NOT_ACCEPTING_JOBS
                        | more_status::BUSY
                );
                if is_success(code) {
                    Ok(answer.response)
                } else {
                    Err(self.refusal(answer.response.code, &answer.response))
                }
            }
            Err(e) => {
                let mut this_request = 0;
                if let ClientError::Interrupted { bytes_sent, .. } = &e {
                    this_request = *bytes_sent;
                    self.bytes = self.bytes.saturating_add(*bytes_sent);
                }
                match conversion {
                    // The conversion failed before any byte of the document's request
                    // left (a created job without documents is cancelled): the
                    // document's fault, and nothing can print.
                    Some(why) if this_request == 0 && self.accepted == 0 => {
                        Err(PushError::Refused {
                            reason: why.to_string(),
                        })
                    }
                    Some(why) => Err(PushError::Interrupted {
                        bytes_sent: self.bytes,
                        reason: format!(
                            "{why} after {} had gone to the printer; what it received may print",
                            human_bytes(self.bytes)
                        ),
                    }),
                    None => Err(self.failed(e)),
                }
            }
        }
    }

    async fn open(
        &self,
        docs: &mut dyn DocumentSource,
        number: u32,
    ) -> Result<Box<dyn AsyncRead + Send + Unpin>, PushError> {
        docs.open(number).await.map_err(|e| {
            match super::converting::open_failure(&e, number) {
                // The document cannot be converted: sending it again would fail again.
                Ok(why) if self.accepted == 0 => PushError::Refused {
                    reason: why.to_string(),
                },
                Ok(why) => self.partial(&why.to_string()),
                Err(why) if self.accepted > 0 => self.partial(&why),
                Err(why) => PushError::NotSent {
                    reason: why,
                    retry_later: false,
                },
            }
        })
    }
}

pub(super) async fn send(
    connection: Connection,
    multi_document: bool,
    job: &PushJob,
    docs: &mut dyn DocumentSource,
    timeouts: &Timeouts,
) -> Result<Sent, PushError> {
    let count = docs.count();
    let mut p = Progress {
        uri: connection.uri().to_owned(),
        pin: connection.cert_sha256().map(str::to_owned),
        job,
        timeouts: *timeouts,
        bytes: 0,
        accepted: 0,
        count,
        job_ids: Vec::new(),
        busy: false,
    };
    if count > 1 && multi_document {
        // The first document is opened (converted up to its first page) before the
        // job is created: a document that cannot be converted leaves no empty job.
        let mut first = Some(p.open(docs, 1).await?);
        let request = job_request(op::CREATE_JOB, &p.uri, job, false);
        let response = p.exchange(Some(connection), &request, None).await?;
        let job_id = job_id_of(&response).ok_or_else(|| PushError::NotSent {
            reason: "the printer created a job without a job-id".into(),
            retry_later: false,
        })?;
        p.job_ids.push(job_id);
        for number in 1..=count {
            let mut document = match first.take() {
                Some(document) => document,
                None => match p.open(docs, number).await {
                    Ok(document) => document,
                    Err(e) => {
                        if p.accepted == 0 {
                            cancel(&p, job_id).await;
                        }
                        return Err(e);
                    }
                },
            };
            let request = send_document_request(&p.uri, job, job_id, number == count);
            let sent = p.exchange(None, &request, Some(document.as_mut())).await;
            if let Err(e) = sent {
                if p.accepted == 0 && !matches!(e, PushError::Interrupted { .. }) {
                    cancel(&p, job_id).await;
                }
                return Err(e);
            }
            p.accepted += 1;
        }
    } else {
        let mut connection = Some(connection);
        for number in 1..=count {
            let started = Instant::now();
            let response = loop {
                let mut document = p.open(docs, number).await?;
                let request = job_request(op::PRINT_JOB, &p.uri, job, true);
                match p
                    .exchange(connection.take(), &request, Some(document.as_mut()))
                    .await
                {
                    Ok(response) => break response,
                    // The printer is still busy with our previous document.
                    Err(_) if p.busy && p.accepted > 0 && started.elapsed() < BUSY_PATIENCE => {
                        tokio::time::sleep(POLL).await;
                    }
                    Err(e) => return Err(e),
                }
            };
            p.accepted += 1;
            if let Some(id) = job_id_of(&response) {
                p.job_ids.push(id);
            }
        }
    }
    Ok(Sent {
        protocol: Protocol::Ipp,
        uri: p.uri,
        cert_sha256: p.pin,
        user_name: job.user_name.clone(),
        job_ids: p.job_ids,
        bytes: p.bytes,
        timeouts: *timeouts,
    })
}

/// Best effort: a job created for documents that never came would otherwise wait at
/// the printer until its own time-out.
async fn cancel(p: &Progress<'_>, job_id: i32) {
    let mut request = new_request(op::CANCEL_JOB, &p.uri, &p.job.user_name);
    request.groups[0]
        .attributes
        .insert(3, Attribute::new("job-id", Value::Integer(job_id)));
    if let Ok(connection) = Connection::open(&p.uri, p.pin.as_deref(), &p.timeouts).await {
        let _ = connection.send(&request, None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::parse_page_ranges;

    #[test]
    fn page_ranges_become_ranges_of_integer() {
        assert_eq!(parse_page_ranges("1-3,7-7"), Ok(vec![(1, 3), (7, 7)]));
        assert_eq!(parse_page_ranges("5"), Ok(vec![(5, 5)]));
        assert!(parse_page_ranges("3-1").is_err());
        assert!(parse_page_ranges("0-2").is_err());
        assert!(parse_page_ranges("a").is_err());
    }
}
