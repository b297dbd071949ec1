//! A job's documents as the printer takes them: each opened document is the
//! converter's output, handed over only once its first page is converted (so a
//! document that cannot be converted fails before any byte of its request leaves).
//! For a format of one page per document (JPEG) every selected page of every
//! document becomes a document of its own.

use std::io;

use super::{DocumentSource, OpenDocument, PushError};
use crate::convert::{ConvertError, Converter, Spec};

/// One document the printer receives: a whole input document, or one page of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    document: u32,
    page: Option<u32>,
}

/// The converted view of a [`DocumentSource`].
pub(super) struct Converting<'a> {
    inner: &'a mut dyn DocumentSource,
    converter: &'a Converter,
    spec: Spec,
    parts: Vec<Part>,
}

impl<'a> Converting<'a> {
    /// For a one-page-per-document format, counts the pages of each document first
    /// (a pass of the converter over each); nothing reaches the printer meanwhile.
    pub(super) async fn new(
        inner: &'a mut dyn DocumentSource,
        converter: &'a Converter,
        spec: Spec,
    ) -> Result<Converting<'a>, PushError> {
        let mut parts = Vec::new();
        for document in 1..=inner.count() {
            if !spec.to.one_page_per_document() {
                parts.push(Part {
                    document,
                    page: None,
                });
                continue;
            }
            let input = inner.open(document).await.map_err(|e| refused(&e))?;
            let pages =
                converter
                    .count_pages(spec.from, input)
                    .await
                    .map_err(|e| PushError::Refused {
                        reason: e.to_string(),
                    })?;
            parts.extend(
                selected(pages, spec.page_ranges.as_deref()).map(|page| Part {
                    document,
                    page: Some(page),
                }),
            );
        }
        if parts.is_empty() {
            return Err(PushError::Refused {
                reason: "the page ranges select no page of the document".into(),
            });
        }
        Ok(Self {
            inner,
            converter,
            spec,
            parts,
        })
    }
}

/// The pages `1..=pages` that `ranges` select (all without ranges), in order.
fn selected(pages: u32, ranges: Option<&[(u32, u32)]>) -> impl Iterator<Item = u32> + '_ {
    (1..=pages).filter(move |p| ranges.is_none_or(|r| r.iter().any(|(lo, hi)| lo <= p && p <= hi)))
}

/// A document that could not be read or converted before anything was sent: the
/// converter's sentence when it is the conversion's failure.
fn refused(e: &io::Error) -> PushError {
    match super::conversion_failure(e) {
        Some(why) => PushError::Refused {
            reason: why.to_string(),
        },
        None => PushError::NotSent {
            reason: format!("opening the document failed: {e}"),
            retry_later: false,
        },
    }
}

impl DocumentSource for Converting<'_> {
    fn count(&self) -> u32 {
        u32::try_from(self.parts.len()).unwrap_or(u32::MAX)
    }

    fn open(&mut self, number: u32) -> OpenDocument<'_> {
        Box::pin(async move {
            let part = *self
                .parts
                .get(number.saturating_sub(1) as usize)
                .ok_or_else(|| io::Error::other(format!("no document {number}")))?;
            let input = self.inner.open(part.document).await?;
            let mut spec = self.spec.clone();
            if let Some(page) = part.page {
                spec.page_ranges = Some(vec![(page, page)]);
            }
            let converted = self
                .converter
                .start(&spec, input)
                .await
                .map_err(io::Error::other)?;
            Ok(Box::new(converted) as Box<dyn tokio::io::AsyncRead + Send + Unpin>)
        })
    }
}

/// The error of a document that failed to open, sorted: a conversion failure is the
/// document's (refused: the same document would fail again), anything else is not.
pub(super) fn open_failure(e: &io::Error, number: u32) -> Result<ConvertError, String> {
    match super::conversion_failure(e) {
        Some(why) => Ok(why.clone()),
        None => Err(format!("opening document {number} failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::selected;

    #[test]
    fn ranges_select_pages_in_order() {
        assert_eq!(selected(5, None).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        assert_eq!(
            selected(5, Some(&[(2, 3), (5, 9)])).collect::<Vec<_>>(),
            vec![2, 3, 5]
        );
        assert_eq!(selected(2, Some(&[(4, 6)])).count(), 0);
    }
}
