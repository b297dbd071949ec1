//! The job template of the secure queue: the values a Print-Job, Create-Job or
//! Validate-Job may carry, checked before anything is stored, and the submission
//! they describe.

use crate::ipp::printer::DOCUMENT_FORMATS;
use crate::ipp::status;
use crate::ipp::wire::{Message, Value};
use crate::jobs::{ColorMode, Compression, Sides, Submission};

/// Template values we can honour; anything else is refused up front.
pub(super) fn validate_job(request: &Message) -> Result<(), (u16, String)> {
    // MIME types compare without regard to case (RFC 2045 §5.1): CUPS sends
    // `application/vnd.hp-PCL`, others the lower-case spelling.
    if let Some(format) = request.operation_str("document-format")
        && !DOCUMENT_FORMATS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(format))
    {
        return Err((
            status::DOCUMENT_FORMAT_NOT_SUPPORTED,
            format!("document-format {format} is not supported"),
        ));
    }
    compression(request)?;
    if let Some(copies) = request.job_int("copies")
        && crate::jobs::options::check_copies(i64::from(copies)).is_err()
    {
        // Issue 20: refused with the limit (copies-supported), never clamped.
        return Err((
            status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            format!(
                "copies must be 1 to {} (at most {} copies)",
                crate::jobs::options::MAX_COPIES,
                crate::jobs::options::MAX_COPIES
            ),
        ));
    }
    if let Some(sides) = request.job_str("sides")
        && Sides::parse(sides).is_none()
    {
        return Err((
            status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            format!("sides {sides} is not supported"),
        ));
    }
    page_ranges(request)?;
    if let Some(name) = request.operation_str("job-name")
        && name.len() > 255
    {
        return Err((
            status::REQUEST_VALUE_TOO_LONG,
            "job-name is longer than 255 octets".into(),
        ));
    }
    Ok(())
}

/// `page-ranges` (RFC 8011 §5.2.7): ascending, non-overlapping ranges from page 1,
/// kept as `first-last` joined by commas; `None` when absent (all pages).
fn page_ranges(request: &Message) -> Result<Option<String>, (u16, String)> {
    let Some(attribute) = request.job_attr("page-ranges") else {
        return Ok(None);
    };
    let refuse = |why: &str| {
        Err((
            status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            format!("page-ranges {why}"),
        ))
    };
    if attribute.values.len() > 100 {
        return refuse("has more than 100 ranges");
    }
    let mut last = 0;
    let mut ranges = Vec::new();
    for value in &attribute.values {
        let Value::Range(first, end) = *value else {
            return refuse("must be rangeOfInteger values");
        };
        if first < 1 || end < first || first <= last {
            return refuse("must be ascending, non-overlapping ranges from page 1");
        }
        last = end;
        ranges.push(format!("{first}-{end}"));
    }
    Ok(Some(ranges.join(",")))
}

pub(super) fn compression(request: &Message) -> Result<Compression, (u16, String)> {
    match request.operation_str("compression") {
        None => Ok(Compression::None),
        Some(keyword) => Compression::parse(keyword).ok_or_else(|| {
            (
                status::COMPRESSION_NOT_SUPPORTED,
                format!("compression {keyword} is not supported"),
            )
        }),
    }
}

/// The job a Print-Job or Create-Job describes, once its template values are checked.
pub(crate) fn submission(request: &Message) -> Result<Submission<'_>, (u16, String)> {
    validate_job(request)?;
    Ok(Submission {
        name: job_name(request),
        format: request
            .operation_str("document-format")
            .unwrap_or("application/octet-stream"),
        copies: request.job_int("copies").unwrap_or(1).into(),
        sides: request
            .job_str("sides")
            .and_then(Sides::parse)
            .unwrap_or_default(),
        source: "ipp",
        compression: compression(request)?,
        color_mode: request
            .job_str("print-color-mode")
            .and_then(ColorMode::parse)
            .unwrap_or_default(),
        accept: None,
        page_ranges: page_ranges(request)?,
    })
}

fn job_name(request: &Message) -> &str {
    request
        .operation_str("job-name")
        .or_else(|| request.operation_str("document-name"))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("Untitled")
}
