//! Push delivery: PrintPark sends a released job to the printer (IPPS, IPP or raw
//! port 9100), as opposed to pull, where the output device fetches it.
//!
//! Delivery runs in three phases so the orchestrator can write down, between them,
//! what may already have reached the printer (invariant 5: a job that may have printed
//! is never silently sent again):
//! 1. [`connect`]: find a way in; nothing is sent. Failure: nothing left PrintPark.
//! 2. [`Link::send`]: bytes may leave. The error says whether the printer took
//!    nothing ([`PushError::NotSent`], [`PushError::Refused`]) or may hold part of the
//!    job ([`PushError::Interrupted`]).
//! 3. [`Sent::follow`]: watch the printer's job to its end, as far as it tells.
//!
//! Conversion (issue 17): [`connect`] also decides what the printer gets
//! ([`crate::convert::plan`]): the parked bytes as they are, or a conversion into a
//! format it takes (its `document-format-supported`, or a raw printer's language).
//! [`Link::send`] then streams the converter's output instead of the document. A
//! document is opened (and, converted, its first page made) before any byte of its
//! request is written, so a document that cannot be converted leaves the printer with
//! nothing: the release fails with the converter's sentence and the job is held
//! again. A conversion that fails after bytes left is [`PushError::Interrupted`]: a
//! printer that prints as it receives may have printed the first pages.

#![warn(missing_docs)]

mod candidates;
mod converting;
mod follow;
mod ipp;
mod raw;

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::AsyncRead;

use crate::convert::{self, ConvertError, Converter, Duplex, JobLook, Plan, PrinterLanguage};
use crate::ipp::client::{ClientError, Connection, Timeouts};
use candidates::{Candidate, candidates};
pub use candidates::{foreign_uris, host_key, same_host};

/// How to reach a printer. `Auto` prefers encryption: IPPS, then IPP, then raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// IPPS, then IPP, then raw for a `socket://` printer.
    #[default]
    Auto,
    /// IPP over TLS only.
    Ipps,
    /// Plain IPP only (the document crosses the network in clear).
    Ipp,
    /// Raw port 9100 only: no status, no options.
    Raw,
}

impl Protocol {
    /// The setting's spelling: "auto", "ipps", "ipp", "raw".
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Auto => "auto",
            Protocol::Ipps => "ipps",
            Protocol::Ipp => "ipp",
            Protocol::Raw => "raw",
        }
    }
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Protocol::Auto),
            "ipps" => Ok(Protocol::Ipps),
            "ipp" => Ok(Protocol::Ipp),
            "raw" => Ok(Protocol::Raw),
            other => Err(format!(
                "unknown protocol {other:?} (auto, ipps, ipp or raw)"
            )),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A printer as `release::printers` knows it.
#[derive(Debug, Clone, Default)]
pub struct PushTarget {
    /// As the admin entered it: `ipps://`, `ipp://` or `socket://host[:9100]`.
    pub uri: String,
    /// The way the admin chose (usually `Auto`).
    pub protocol: Protocol,
    /// SHA-256 (hex) of the printer's TLS certificate, once seen: it must not change.
    pub tls_pin: Option<String>,
    /// printer-uri-supported from the last report (where IPPS may be offered). Only
    /// those on the host of `uri` are ever tried.
    pub uris_supported: Vec<String>,
    /// document-format-supported from the last report; empty when unknown.
    pub formats: Vec<String>,
    /// multiple-document-jobs-supported from the last report.
    pub multi_document: bool,
    /// A raw printer's language, as the admin set it (`None`: unknown, the bytes go
    /// as they are).
    pub language: Option<PrinterLanguage>,
    /// color-supported from the last report: a printer without colour gets grey
    /// pages when the job is converted anyway (smaller rasters, no colour guessing).
    pub color_supported: Option<bool>,
}

impl PushTarget {
    /// A printer's stored language setting; a value this version does not know is
    /// treated as unset (and logged), never as a reason not to print.
    pub fn parse_language(stored: Option<&str>) -> Option<PrinterLanguage> {
        let stored = stored.map(str::trim).filter(|s| !s.is_empty())?;
        match stored.parse() {
            Ok(language) => Some(language),
            Err(why) => {
                tracing::warn!(error = %why, "ignoring the printer's stored language");
                None
            }
        }
    }
}

/// The job as the printer should print it.
#[derive(Debug, Clone)]
pub struct PushJob {
    /// job-name, as the printer shows it.
    pub name: String,
    /// requesting-user-name: the owner, as the printer logs it.
    pub user_name: String,
    /// MIME type of the documents, e.g. "application/pdf".
    pub format: String,
    /// Copies of the whole job (1 sends no copies attribute).
    pub copies: u32,
    /// one-sided | two-sided-long-edge | two-sided-short-edge
    pub sides: String,
    /// auto | color | monochrome
    pub color_mode: String,
    /// e.g. "1-3,7-7"
    pub page_ranges: Option<String>,
    /// A media keyword, e.g. "iso_a4_210x297mm".
    pub media: Option<String>,
}

/// A document being opened: the future of a stream of its plaintext.
pub type OpenDocument<'a> =
    Pin<Box<dyn Future<Output = std::io::Result<Box<dyn AsyncRead + Send + Unpin>>> + Send + 'a>>;

/// The documents of a job, decrypted as they stream (never whole in memory).
pub trait DocumentSource: Send {
    /// How many documents the job has (numbered 1..=count).
    fn count(&self) -> u32;
    /// Opens document `number`. Documents are opened one at a time, in order; a
    /// document is opened again when a printer that holds one job at a time (it
    /// answers server-error-busy) must be asked again for a later document.
    fn open(&mut self, number: u32) -> OpenDocument<'_>;
    /// The document's size, when known (for progress only).
    fn size_hint(&self, _number: u32) -> Option<u64> {
        None
    }
}

/// Why a delivery failed, sorted by what the printer may hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The printer holds nothing of the job. `retry_later`: it said it is busy or
    /// temporarily unable, so the same release may be tried again.
    #[error("{reason}")]
    NotSent {
        /// Why, in a sentence.
        reason: String,
        /// The printer was busy or temporarily unable: try the same release later.
        retry_later: bool,
    },
    /// The printer definitively refused the job (format, attributes, authorization):
    /// sending it again unchanged would fail again.
    #[error("{reason}")]
    Refused {
        /// Why, in a sentence ("printer refused application/pdf").
        reason: String,
    },
    /// Bytes reached the printer and the delivery broke: part or all of the job may
    /// print. Never retry without a person deciding.
    #[error("{reason}")]
    Interrupted {
        /// Request body bytes written before the break (all documents so far).
        bytes_sent: u64,
        /// What broke and after how much ("connection reset after 3.1 MB").
        reason: String,
    },
}

impl PushError {
    /// The sentence for the audit log and the person releasing.
    pub fn reason(&self) -> &str {
        match self {
            PushError::NotSent { reason, .. }
            | PushError::Refused { reason }
            | PushError::Interrupted { reason, .. } => reason,
        }
    }
}

/// What became of a job at the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The printer says every job of the release completed.
    Completed,
    /// The printer aborted or canceled the job (its reasons and message).
    Failed(String),
    /// PrintPark lost track (time limit, printer gone): the job may or may not print.
    Unknown(String),
}

/// Phase 1 done: a connection to the printer on which nothing has been sent.
#[derive(Debug)]
pub struct Link {
    way: Way,
    multi_document: bool,
    timeouts: Timeouts,
    plan: Plan,
}

#[derive(Debug)]
enum Way {
    Ipp(Connection, Protocol),
    Raw(tokio::net::TcpStream, String),
}

impl Link {
    /// The protocol actually chosen (never `Auto`).
    pub fn protocol(&self) -> Protocol {
        match &self.way {
            Way::Ipp(_, protocol) => *protocol,
            Way::Raw(..) => Protocol::Raw,
        }
    }

    /// Where the job goes: the printer URI, or `socket://host:port` for raw.
    pub fn uri(&self) -> &str {
        match &self.way {
            Way::Ipp(connection, _) => connection.uri(),
            Way::Raw(_, uri) => uri,
        }
    }

    /// SHA-256 of the certificate the printer showed (IPPS): `release::printers` pins it on
    /// first use.
    pub fn cert_sha256(&self) -> Option<&str> {
        match &self.way {
            Way::Ipp(connection, _) => connection.cert_sha256(),
            Way::Raw(..) => None,
        }
    }

    /// What the printer gets: the parked bytes, or a conversion.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Phase 2: sends the job. IPP: one Print-Job for a single document; several
    /// documents go as Create-Job + Send-Document where the printer supports it,
    /// else as one Print-Job each. Raw: every document's bytes, in order.
    ///
    /// When the plan converts, `converter` makes each document into the plan's
    /// format on its way out (a JPEG-only printer gets one document per page); the
    /// printer is told that format, and no page-ranges (the conversion applied them).
    pub async fn send(
        self,
        job: &PushJob,
        docs: &mut dyn DocumentSource,
        converter: &Converter,
    ) -> Result<Sent, PushError> {
        if docs.count() == 0 {
            return Err(PushError::NotSent {
                reason: "the job has no documents".into(),
                retry_later: false,
            });
        }
        match self.plan.clone() {
            Plan::PassThrough => self.send_as(job, docs).await,
            Plan::Convert(spec) => {
                let mut wire = job.clone();
                wire.format = spec.to.mime().to_owned();
                if spec.page_ranges.is_some() {
                    wire.page_ranges = None;
                }
                let mut converting = converting::Converting::new(docs, converter, spec).await?;
                self.send_as(&wire, &mut converting).await
            }
        }
    }

    async fn send_as(
        self,
        job: &PushJob,
        docs: &mut dyn DocumentSource,
    ) -> Result<Sent, PushError> {
        match self.way {
            Way::Ipp(connection, protocol) => {
                let mut sent =
                    ipp::send(connection, self.multi_document, job, docs, &self.timeouts).await?;
                sent.protocol = protocol;
                Ok(sent)
            }
            Way::Raw(stream, uri) => {
                let bytes = raw::send(stream, docs, &self.timeouts).await?;
                Ok(Sent {
                    protocol: Protocol::Raw,
                    uri,
                    cert_sha256: None,
                    user_name: job.user_name.clone(),
                    job_ids: Vec::new(),
                    bytes,
                    timeouts: self.timeouts,
                })
            }
        }
    }
}

/// Phase 2 done: the printer took the job.
#[derive(Debug, Clone)]
pub struct Sent {
    protocol: Protocol,
    uri: String,
    cert_sha256: Option<String>,
    user_name: String,
    /// One per printer job (several when documents went as separate Print-Jobs).
    job_ids: Vec<i32>,
    bytes: u64,
    timeouts: Timeouts,
}

impl Sent {
    /// The printer's job id (the first, when documents became several jobs); raw
    /// printing has none.
    pub fn printer_job_id(&self) -> Option<i32> {
        self.job_ids.first().copied()
    }

    /// Every printer job id, in document order.
    pub fn printer_job_ids(&self) -> &[i32] {
        &self.job_ids
    }

    /// Request body bytes handed to the network (IPP attributes and documents).
    pub fn bytes_sent(&self) -> u64 {
        self.bytes
    }

    /// The protocol used (never `Auto`).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Phase 3: polls the printer's jobs until all completed, one failed, or `limit`
    /// passed. Raw printing gives no status: it is `Completed` once every byte was
    /// written and flushed.
    pub async fn follow(self, limit: Duration) -> Completion {
        match self.protocol {
            Protocol::Raw => Completion::Completed,
            _ => follow::follow(&self, limit).await,
        }
    }
}

/// Phase 1: finds a way to the printer and connects; nothing is sent. Tries, for
/// `Auto`, IPPS URIs, then IPP URIs, then raw when the admin URI is `socket://`; the
/// first that connects wins. A changed certificate stops the search: falling back
/// to another way would hand the job to whoever now answers.
///
/// What is sent follows [`crate::convert::plan`]: an IPP printer's formats, a raw
/// printer's language (a raw printer without one gets the bytes as they are, as
/// before). A job PrintPark cannot make into anything the printer takes is refused
/// before any connection.
pub async fn connect(
    target: &PushTarget,
    job: &PushJob,
    timeouts: &Timeouts,
) -> Result<Link, PushError> {
    let look = job_look(job)?;
    // Checked before connecting; the way found decides which of the two holds.
    let ipp_plan = plan_for(target, job, &look, false);
    let raw_plan = plan_for(target, job, &look, true);
    let candidates = candidates(target).map_err(|why| PushError::NotSent {
        reason: why,
        retry_later: false,
    })?;
    let mut failures = Vec::new();
    for candidate in candidates {
        let way = match candidate {
            Candidate::Ipp(uri, protocol) => {
                match Connection::open(&uri, target.tls_pin.as_deref(), timeouts).await {
                    Ok(connection) => Way::Ipp(connection, protocol),
                    Err(e @ ClientError::CertificateChanged { .. }) => {
                        return Err(PushError::NotSent {
                            reason: e.to_string(),
                            retry_later: false,
                        });
                    }
                    Err(ClientError::Unreachable(why)) => {
                        failures.push(why);
                        continue;
                    }
                    Err(e) => {
                        failures.push(format!("{uri}: {e}"));
                        continue;
                    }
                }
            }
            Candidate::Raw(host, port) => match raw::open(&host, port, timeouts).await {
                Ok(stream) => Way::Raw(stream, raw::uri(&host, port)),
                Err(why) => {
                    failures.push(why);
                    continue;
                }
            },
        };
        let plan = match &way {
            Way::Ipp(..) => ipp_plan,
            Way::Raw(..) => raw_plan,
        }?;
        return Ok(Link {
            way,
            multi_document: target.multi_document,
            timeouts: *timeouts,
            plan,
        });
    }
    Err(PushError::NotSent {
        reason: format!("the printer could not be reached: {}", failures.join("; ")),
        retry_later: false,
    })
}

/// What the job asks of its pages, from the release's choices.
fn job_look(job: &PushJob) -> Result<JobLook, PushError> {
    let page_ranges = match &job.page_ranges {
        Some(ranges) => Some(
            ipp::parse_page_ranges(ranges)
                .map_err(|why| PushError::Refused { reason: why })?
                .into_iter()
                .map(|(lo, hi)| (lo.unsigned_abs(), hi.unsigned_abs()))
                .collect(),
        ),
        None => None,
    };
    Ok(JobLook {
        gray: job.color_mode.eq_ignore_ascii_case("monochrome"),
        page_ranges,
        duplex: match job.sides.as_str() {
            "two-sided-long-edge" => Duplex::LongEdge,
            "two-sided-short-edge" => Duplex::ShortEdge,
            _ => Duplex::OneSided,
        },
        media: job.media.clone(),
    })
}

/// The plan for an IPP printer (its formats) or a raw one (its language; ranges and
/// grey can only be made here). A printer without colour gets grey pages whenever the
/// job is converted anyway; it is no reason to convert a job it takes as it is.
fn plan_for(
    target: &PushTarget,
    job: &PushJob,
    look: &JobLook,
    raw: bool,
) -> Result<Plan, PushError> {
    let (accepted, language): (&[String], _) = if raw {
        (&[], target.language)
    } else {
        (&target.formats, None)
    };
    let mut plan = convert::plan(&job.format, accepted, language, look, !raw).map_err(|e| {
        PushError::Refused {
            reason: e.to_string(),
        }
    })?;
    if let Plan::Convert(spec) = &mut plan
        && target.color_supported == Some(false)
    {
        spec.gray = true;
    }
    Ok(plan)
}

/// The converter's sentence when opening or reading a document failed because the
/// document could not be converted (the failure is then the document's, and sending
/// it again unchanged would fail again).
pub(crate) fn conversion_failure(e: &std::io::Error) -> Option<&ConvertError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<ConvertError>())
}
