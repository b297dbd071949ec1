//! Intake: decompress (gzip/deflate) → analyse as the bytes pass → seal and store →
//! index as held. Memory stays bounded: nothing holds the document, the analyser
//! keeps kilobytes, the vault one chunk.

use async_compression::tokio::bufread::{DeflateDecoder, GzipDecoder};
use tokio::io::{AsyncRead, BufReader};

use super::analyse::{Analysis, AnalyzingReader, TooLarge};
use super::options::{ColorMode, Sides};
use super::quota::{OverQuota, QuotaReader};
use super::{HeldJob, JobError, JobState, Jobs};
use crate::clock::now;
use crate::db::{NewDocument, NewJob};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome};
use crate::identity::{ClientInfo, User};
use crate::vault::{BlobId, SealedBlob, VaultError};

/// What the portal accepts: the formats a browser user has at hand.
pub const PORTAL_FORMATS: &[&str] = &["application/pdf", "image/jpeg", "image/png"];

/// How the client compressed the document on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    /// Raw DEFLATE (RFC 1951), as CUPS and IPP mean it.
    Deflate,
}

impl Compression {
    pub fn parse(keyword: &str) -> Option<Self> {
        match keyword {
            "none" => Some(Compression::None),
            "gzip" => Some(Compression::Gzip),
            "deflate" => Some(Compression::Deflate),
            _ => None,
        }
    }
}

/// What a client said about a job it hands in (the format it declares is only a hint).
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub name: &'a str,
    pub format: &'a str,
    pub copies: i64,
    pub sides: Sides,
    pub source: &'a str,
    pub compression: Compression,
    pub color_mode: ColorMode,
    /// When set, only these sniffed formats are accepted (the portal takes PDF, JPEG, PNG).
    pub accept: Option<&'a [&'a str]>,
    /// The pages to print, `first-last` ranges joined by commas (IPP page-ranges);
    /// `None` = all.
    pub page_ranges: Option<String>,
}

/// The client's stream failed (hung up, timed out) while sending the document.
#[derive(Debug, thiserror::Error)]
#[error("the client stopped sending: {0}")]
struct ClientGone(String);

struct ClientStream<'a, R>(&'a mut R);

impl<R: AsyncRead + Unpin> AsyncRead for ClientStream<'_, R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match std::pin::Pin::new(&mut *self.0).poll_read(cx, buf) {
            std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Err(std::io::Error::new(
                e.kind(),
                ClientGone(e.to_string()),
            ))),
            other => other,
        }
    }
}

impl Jobs {
    /// The largest document the queue takes (`queue.max_job_mib`).
    pub fn max_bytes(&self) -> u64 {
        self.queue.max_job_mib.saturating_mul(1024 * 1024)
    }

    async fn refuse_if_too_many(&self, owner: &User) -> Result<(), JobError> {
        let held = self
            .db
            .count_jobs_of_owner_in_state(owner.id, JobState::Held.as_str())
            .await?;
        if held >= i64::from(self.queue.max_held_per_user) {
            return Err(JobError::TooManyHeld(self.queue.max_held_per_user));
        }
        Ok(())
    }

    /// Decompresses, analyses and seals one document; its bytes are reserved as they
    /// pass (reservation `reservation` of `owner`).
    async fn seal_document<R: AsyncRead + Unpin>(
        &self,
        blob: &BlobId,
        document: &mut R,
        compression: Compression,
        owner: &User,
        reservation: i64,
    ) -> Result<(SealedBlob, Analysis), JobError> {
        let limit = self.max_bytes();
        // Errors of the client's stream are marked, so a decoder's own errors (corrupt
        // compressed data) can be told apart from a client that hung up.
        let document = &mut ClientStream(document);
        let result = match compression {
            Compression::None => {
                let mut reader = AnalyzingReader::new(document, limit);
                let sealed = self
                    .vault
                    .seal(
                        blob,
                        &mut QuotaReader::new(&mut reader, self, reservation, owner),
                    )
                    .await;
                sealed.map(|s| (s, reader.analyzer.finish()))
            }
            Compression::Gzip => {
                let mut reader =
                    AnalyzingReader::new(GzipDecoder::new(BufReader::new(document)), limit);
                let sealed = self
                    .vault
                    .seal(
                        blob,
                        &mut QuotaReader::new(&mut reader, self, reservation, owner),
                    )
                    .await;
                sealed.map(|s| (s, reader.analyzer.finish()))
            }
            Compression::Deflate => {
                let mut reader =
                    AnalyzingReader::new(DeflateDecoder::new(BufReader::new(document)), limit);
                let sealed = self
                    .vault
                    .seal(
                        blob,
                        &mut QuotaReader::new(&mut reader, self, reservation, owner),
                    )
                    .await;
                sealed.map(|s| (s, reader.analyzer.finish()))
            }
        };
        let (sealed, analysis) = result.map_err(|e| match e {
            VaultError::Source(io) if io.get_ref().is_some_and(|inner| inner.is::<TooLarge>()) => {
                JobError::TooLarge(self.queue.max_job_mib)
            }
            VaultError::Source(io) if io.get_ref().is_some_and(|inner| inner.is::<OverQuota>()) => {
                JobError::OverQuota(self.queue.max_user_mib)
            }
            VaultError::Source(io)
                if io.get_ref().is_some_and(|inner| inner.is::<ClientGone>()) =>
            {
                JobError::Interrupted(io.to_string())
            }
            VaultError::Source(io) if compression != Compression::None => {
                JobError::Compression(io.to_string())
            }
            other => other.into(),
        })?;
        let analysis = self.parse_pdf(blob, &sealed, analysis).await;
        Ok((sealed, analysis))
    }

    /// PDFs get the full parse too (pages from the page tree, colour from the
    /// contents) in a sandboxed analyser; the streaming scan's count stays when that
    /// is impossible, with the reason as the warning.
    async fn parse_pdf(
        &self,
        blob: &BlobId,
        sealed: &SealedBlob,
        mut analysis: Analysis,
    ) -> Analysis {
        if analysis.format != "application/pdf" {
            return analysis;
        }
        if sealed.plain_size > super::pdf::MAX_PARSE_BYTES {
            analysis.warning.get_or_insert_with(|| {
                "PDF too large for the full parse; pages counted as they passed".into()
            });
            return analysis;
        }
        let facts = match self.vault.open_blob(blob).await {
            Ok(reader) => self.pdf.analyse(sealed.plain_size, reader).await,
            Err(e) => Err(super::pdf::PdfAnalysisError::Source(e.to_string())),
        };
        match facts {
            Ok(super::pdf::PdfFacts {
                pages: Some(pages),
                color,
            }) => {
                analysis.pages = Some(pages);
                analysis.color = color;
                analysis.warning = None;
            }
            // The parser could not follow the page tree: a count of page-looking
            // strings is not trusted then.
            Ok(_) => {
                analysis.pages = None;
                analysis.color = None;
                analysis.warning =
                    Some("the PDF's page tree could not be read (corrupt or encrypted)".into());
            }
            Err(e) => {
                analysis.warning = Some(match analysis.pages {
                    Some(_) => format!("{e}; pages counted as they passed"),
                    None => e.to_string(),
                });
            }
        }
        analysis
    }

    async fn audit_parked(
        &self,
        owner: &User,
        job: &HeldJob,
        analysis: &Analysis,
        client: &ClientInfo,
        source: &str,
    ) -> Result<(), JobError> {
        let detail = match &analysis.warning {
            Some(w) => format!("{source}; {}; {w}", analysis.format),
            None => format!("{source}; {}", analysis.format),
        };
        if let Some(w) = &analysis.warning {
            tracing::warn!(job = job.id, format = analysis.format, warning = %w, "parked with incomplete analysis");
        }
        self.identity
            .audit(AuditEvent {
                actor: Some(owner),
                action: AuditAction::JobPark,
                target: &job.id.to_string(),
                outcome: AuditOutcome::Success,
                client,
                detail: &detail,
            })
            .await?;
        Ok(())
    }

    /// Parks a document for its owner: analyse and seal first, then index. The job row
    /// exists only once the blob is durable; its place and bytes are reserved in the
    /// database before they are stored, and nothing stays behind when it fails.
    pub async fn park<R: AsyncRead + Unpin>(
        &self,
        owner: &User,
        submission: &Submission<'_>,
        document: &mut R,
        client: &ClientInfo,
    ) -> Result<HeldJob, JobError> {
        // Issue 20: copies out of range are refused with the limit on every way in.
        super::options::check_copies(submission.copies)?;
        self.refuse_if_too_many(owner).await?;
        let reservation = self.reserve(owner, true).await?;
        let parked = self
            .park_reserved(owner, submission, document, client, reservation)
            .await;
        if parked.is_err() {
            self.unreserve(reservation).await;
        }
        parked
    }

    async fn park_reserved<R: AsyncRead + Unpin>(
        &self,
        owner: &User,
        submission: &Submission<'_>,
        document: &mut R,
        client: &ClientInfo,
        reservation: i64,
    ) -> Result<HeldJob, JobError> {
        let blob = BlobId::random();
        let (sealed, analysis) = self
            .seal_document(&blob, document, submission.compression, owner, reservation)
            .await?;
        if let Some(accept) = submission.accept
            && !accept.contains(&analysis.format)
        {
            self.vault.purge(&blob).await?;
            // Issue 20: an empty upload is said to be empty, not an unknown format.
            if sealed.plain_size == 0 {
                return Err(JobError::Empty);
            }
            return Err(JobError::FormatNotAccepted(analysis.format));
        }
        let at = now();
        let row = self
            .db
            .insert_job_claiming(
                &NewJob {
                    uuid: blob.as_str(),
                    owner_id: owner.id,
                    name: submission.name,
                    format: analysis.format,
                    pages: analysis.pages,
                    color: analysis.color,
                    color_mode: submission.color_mode.as_str(),
                    copies: submission.copies.max(1),
                    sides: submission.sides.as_str(),
                    size_bytes: sealed.plain_size as i64,
                    source: submission.source,
                    client_addr: &client.addr,
                    state: JobState::Held.as_str(),
                    blob_id: Some(blob.as_str()),
                    submitted_at: at,
                    expires_at: at + self.hold_secs(owner),
                    analysis_note: analysis.warning.as_deref(),
                    page_ranges: submission.page_ranges.as_deref(),
                },
                Some(reservation),
            )
            .await;
        let job: HeldJob = match row {
            Ok(row) => row.into(),
            Err(e) => {
                let _ = self.vault.purge(&blob).await;
                return Err(e.into());
            }
        };
        self.audit_parked(owner, &job, &analysis, client, submission.source)
            .await?;
        Ok(job)
    }

    /// How long this owner's jobs wait: their own setting, else the queue's.
    pub fn hold_secs(&self, owner: &User) -> i64 {
        owner.hold_hours.unwrap_or(self.queue.hold_hours as i64) * 3600
    }

    /// A job announced before its document (IPP Create-Job).
    pub async fn create_incoming(
        &self,
        owner: &User,
        submission: &Submission<'_>,
        client: &ClientInfo,
    ) -> Result<HeldJob, JobError> {
        self.refuse_if_too_many(owner).await?;
        let reservation = self.reserve(owner, true).await?;
        let at = now();
        let uuid = uuid::Uuid::new_v4().to_string();
        let row = self
            .db
            .insert_job_claiming(
                &NewJob {
                    uuid: &uuid,
                    owner_id: owner.id,
                    name: submission.name,
                    format: submission.format,
                    pages: None,
                    color: None,
                    color_mode: submission.color_mode.as_str(),
                    copies: submission.copies.max(1),
                    sides: submission.sides.as_str(),
                    size_bytes: 0,
                    source: submission.source,
                    client_addr: &client.addr,
                    state: JobState::Incoming.as_str(),
                    blob_id: None,
                    submitted_at: at,
                    expires_at: at + self.hold_secs(owner),
                    analysis_note: None,
                    page_ranges: submission.page_ranges.as_deref(),
                },
                Some(reservation),
            )
            .await;
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                self.unreserve(reservation).await;
                return Err(e.into());
            }
        };
        self.identity
            .audit(AuditEvent {
                actor: Some(owner),
                action: AuditAction::JobCreate,
                target: &row.id.to_string(),
                outcome: AuditOutcome::Success,
                client,
                detail: submission.source,
            })
            .await?;
        Ok(row.into())
    }

    /// One document of an incoming job (IPP Send-Document). With `last` the job is
    /// complete and becomes held; otherwise it waits for the next document.
    pub async fn attach_document<R: AsyncRead + Unpin>(
        &self,
        owner: &User,
        job_id: i64,
        compression: Compression,
        last: bool,
        document: &mut R,
        client: &ClientInfo,
    ) -> Result<HeldJob, JobError> {
        let job = self.job_of(owner, job_id).await?;
        if job.state != JobState::Incoming {
            return Err(JobError::NotPossible("it is complete"));
        }
        // Checked again (atomically) when the document is attached.
        if job.documents >= i64::from(self.queue.max_documents_per_job) {
            return Err(JobError::TooManyDocuments(self.queue.max_documents_per_job));
        }
        let reservation = self.reserve(owner, false).await?;
        let attached = self
            .attach_reserved(
                owner,
                &job,
                compression,
                last,
                document,
                client,
                reservation,
            )
            .await;
        if attached.is_err() {
            self.unreserve(reservation).await;
        }
        attached
    }

    #[allow(clippy::too_many_arguments)]
    async fn attach_reserved<R: AsyncRead + Unpin>(
        &self,
        owner: &User,
        job: &HeldJob,
        compression: Compression,
        last: bool,
        document: &mut R,
        client: &ClientInfo,
        reservation: i64,
    ) -> Result<HeldJob, JobError> {
        let blob = BlobId::random();
        let (sealed, analysis) = self
            .seal_document(&blob, document, compression, owner, reservation)
            .await?;
        let row = self
            .db
            .attach_document(
                job.id,
                &NewDocument {
                    number: job.documents + 1,
                    last,
                    blob_id: blob.as_str(),
                    format: analysis.format,
                    pages: analysis.pages,
                    color: analysis.color,
                    size_bytes: sealed.plain_size as i64,
                    analysis_note: analysis.warning.as_deref(),
                },
                now(),
                i64::from(self.queue.max_documents_per_job),
                Some(reservation),
            )
            .await;
        let job: HeldJob = match row {
            Ok(row) => row.into(),
            Err(e) => {
                // Another Send-Document of this job won the race, or the job was
                // cancelled or timed out meanwhile.
                let _ = self.vault.purge(&blob).await;
                return Err(match e {
                    crate::db::DbError::NotFound | crate::db::DbError::Conflict(_) => {
                        JobError::NotPossible(
                            "another document arrived for it at the same time, or it was cancelled",
                        )
                    }
                    other => other.into(),
                });
            }
        };
        self.audit_parked(owner, &job, &analysis, client, &job.source.clone())
            .await?;
        Ok(job)
    }

    /// The client says no more documents come (Close-Job, or a Send-Document with
    /// `last-document` and no data): the job becomes held.
    pub async fn close(&self, owner: &User, job_id: i64) -> Result<HeldJob, JobError> {
        let job = self.job_of(owner, job_id).await?;
        match job.state {
            JobState::Incoming if job.documents > 0 => {}
            JobState::Incoming => return Err(JobError::NotPossible("it has no document yet")),
            _ => return Ok(job),
        }
        Ok(self
            .db
            .close_incoming(job_id)
            .await
            .map_err(|e| match e {
                crate::db::DbError::NotFound => JobError::NotPossible("it was cancelled meanwhile"),
                other => other.into(),
            })?
            .into())
    }
}
