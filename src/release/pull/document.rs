//! What an output device gets of a document (Fetch-Document): the parked bytes as they
//! are, or converted into a format the device takes (issue 17). The target comes from
//! the request's `document-format-accepted`, else from the `document-format-supported`
//! the device last reported (Update-Output-Device-Attributes); when neither is known
//! the bytes go as they are, as before conversion existed. (An on-site agent names no
//! formats and converts for its printer itself: it gets the parked bytes.)
//!
//! The conversion is started before anything is marked: `Converter::start` returns
//! once the first page is converted, so a document that cannot be converted is
//! answered as an IPP error with nothing sent, and the release fails (the job is held
//! again, with the sentence for its owner and the admin).

use std::time::Duration;

use tokio::io::AsyncRead;

use super::{DeviceCaller, Infra, InfraError};
use crate::convert::{self, ConvertError, Duplex, JobLook, Plan};
use crate::db::{ReleaseEnd, ReleaseRow};
use crate::jobs::HeldJob;
use crate::release::ReleaseError;
use crate::release::conclusion::conclude;
use crate::vault::BlobId;

/// A document on its way to a device: the job, the format the device receives, and
/// the bytes (plaintext, decrypted or converted as they are read).
pub struct OpenedDocument {
    pub job: HeldJob,
    /// The MIME type of `reader`'s bytes (the answer's `document-format`).
    pub format: String,
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
}

impl std::fmt::Debug for OpenedDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedDocument")
            .field("job", &self.job.id)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// What the job asks of its pages, from the release (the owner's choices at release).
pub(crate) fn job_look(release: &ReleaseRow, job: &HeldJob) -> JobLook {
    JobLook {
        gray: release.color_mode == "monochrome",
        page_ranges: job.page_ranges.as_deref().and_then(page_ranges),
        duplex: match release.sides.as_str() {
            "two-sided-long-edge" => Duplex::LongEdge,
            "two-sided-short-edge" => Duplex::ShortEdge,
            _ => Duplex::OneSided,
        },
        media: None,
    }
}

/// `1-3,7-7` → `[(1, 3), (7, 7)]`; `None` when empty or not ranges.
fn page_ranges(text: &str) -> Option<Vec<(u32, u32)>> {
    let ranges: Vec<(u32, u32)> = text
        .split(',')
        .map(|r| {
            let (a, b) = r.trim().split_once('-').unwrap_or((r.trim(), r.trim()));
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        })
        .collect::<Option<_>>()?;
    Some(ranges).filter(|r| !r.is_empty())
}

impl Infra {
    /// The formats a device takes: those its request names, else those it last
    /// reported; empty when neither is known. An on-site agent's device row names
    /// none and is not looked up: the agent converts for its printer itself (with
    /// the printer's own answer, or its language), so it gets the parked bytes.
    fn accepted_by(caller: &DeviceCaller, accepted: &[&str]) -> Vec<String> {
        if accepted.is_empty() && caller.device.agent_id.is_some() {
            Vec::new()
        } else if accepted.is_empty() {
            caller
                .device
                .formats
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect()
        } else {
            accepted.iter().map(|f| (*f).to_owned()).collect()
        }
    }

    /// What the device will get of this release's documents. Output devices apply
    /// page ranges themselves (they travel as the job's `page-ranges`), so only grey is
    /// made here beside the format. Pass-through when the device's formats are unknown.
    pub fn plan_for(
        caller: &DeviceCaller,
        release: &ReleaseRow,
        job: &HeldJob,
        accepted: &[&str],
    ) -> Result<Plan, ConvertError> {
        let accepted = Self::accepted_by(caller, accepted);
        if accepted.is_empty() {
            return Ok(Plan::PassThrough);
        }
        // The device applies the job's page-ranges (sent with the job): a conversion
        // that applied them too would cut twice.
        let look = JobLook {
            page_ranges: None,
            ..job_look(release, job)
        };
        convert::plan(&job.format, &accepted, None, &look, true)
    }

    /// Fetch-Document: opens document `number` (from 1) in a format the device takes
    /// (converting it when needed), then marks the release as transmitting (from now on
    /// a silent device leaves it needing attention). A document that cannot be
    /// converted fails the release (held again) and nothing is sent.
    pub async fn open_document(
        &self,
        caller: &DeviceCaller,
        release_id: i64,
        number: u32,
        accepted: &[&str],
    ) -> Result<OpenedDocument, InfraError> {
        let row = self.held(caller, release_id).await?;
        let (job, blobs) = self.release.jobs.for_delivery(row.job_id).await?;
        let blob: &BlobId = blobs
            .get(number.saturating_sub(1) as usize)
            .filter(|_| number >= 1)
            .ok_or_else(|| {
                InfraError::NotFound(format!(
                    "job {release_id} has {} document(s), not {number}",
                    blobs.len()
                ))
            })?;
        let plan = match Self::plan_for(caller, &row, &job, accepted) {
            Ok(plan) => plan,
            Err(e) => return Err(self.fail_conversion(caller, &row, e).await),
        };
        let plain = self
            .release
            .vault
            .open_blob(blob)
            .await
            .map_err(|e| InfraError::Release(ReleaseError::Job(e.into())))?;
        let plain: Box<dyn AsyncRead + Send + Unpin> = Box::new(plain.into_async_read());
        let (format, reader): (String, Box<dyn AsyncRead + Send + Unpin>) = match &plan {
            Plan::PassThrough => (job.format.clone(), plain),
            Plan::Convert(spec) => match self.release.converter().start(spec, plain).await {
                Ok(converted) => (spec.to.mime().to_owned(), Box::new(converted)),
                Err(e) => return Err(self.fail_conversion(caller, &row, e).await),
            },
        };
        if !row.transmitting {
            self.release
                .db
                .mark_transmitting(row.id, &caller.owner(), "infra")
                .await?;
        }
        Ok(OpenedDocument {
            job,
            format,
            reader,
        })
    }

    /// A document the device cannot be given: the release fails with the reason (the
    /// job is held again) and the device is told why. When an earlier document of the
    /// job was already sent, some pages may have printed: it needs attention instead.
    async fn fail_conversion(
        &self,
        caller: &DeviceCaller,
        row: &ReleaseRow,
        error: ConvertError,
    ) -> InfraError {
        let device = &caller.device.name;
        let (end, reason) = if row.transmitting {
            (
                ReleaseEnd::NeedsAttention,
                format!(
                    "a document could not be prepared for output device {device}: {error}; earlier documents were sent, some pages may have printed"
                ),
            )
        } else {
            (
                ReleaseEnd::Failed,
                format!(
                    "the document could not be prepared for output device {device}: {error}; nothing was sent, the job is held again"
                ),
            )
        };
        tracing::info!(release = row.id, device = caller.device.id, error = %error, "an INFRA document could not be converted");
        conclude(
            &self.release,
            row,
            &caller.owner(),
            end,
            &reason,
            Duration::ZERO,
        )
        .await;
        InfraError::Conversion(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_ranges_are_read_from_the_job_column() {
        assert_eq!(page_ranges("1-3,7-7"), Some(vec![(1, 3), (7, 7)]));
        assert_eq!(page_ranges("4"), Some(vec![(4, 4)]));
        assert_eq!(page_ranges(""), None);
        assert_eq!(page_ranges("a-b"), None);
    }
}
