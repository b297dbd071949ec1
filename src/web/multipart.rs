//! Reading a multipart/form-data upload safely: the boundary checked before
//! actix-multipart sees it, a part that stops arriving ended, small text fields
//! bounded. Shared by the portal's job upload and the admin's people import.

use futures_util::TryStreamExt;

use crate::web::error::{PageError, Problem};

fn bad_multipart(e: impl std::fmt::Display) -> PageError {
    PageError(Problem::bad_request(e.to_string()))
}

/// The upload form's parts, from the request's headers and body. The boundary is
/// checked first: actix-multipart 0.7.2 slices each line by the boundary's length
/// and panics on a boundary shorter than 4 characters (found by fuzzing,
/// `fuzz/regressions/multipart_upload`); browsers send 16 or more, RFC 2046 allows
/// at most 70.
pub fn upload_form<S>(
    headers: &actix_web::http::header::HeaderMap,
    body: S,
) -> Result<actix_multipart::Multipart, PageError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, actix_web::error::PayloadError>> + 'static,
{
    let boundary = headers
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<actix_web::mime::Mime>().ok())
        .filter(|m| m.type_() == actix_web::mime::MULTIPART)
        .and_then(|m| {
            m.get_param(actix_web::mime::BOUNDARY)
                .map(|b| b.as_str().len())
        });
    match boundary {
        Some(4..=70) => Ok(actix_multipart::Multipart::new(headers, body)),
        Some(_) => Err(PageError(Problem::bad_request(
            "the upload's multipart boundary must be 4 to 70 characters",
        ))),
        None => Err(PageError(Problem::bad_request(
            "send the files as multipart/form-data with a boundary",
        ))),
    }
}

/// The next part of the form, within `idle`: actix-multipart 0.7.2 waits forever for
/// bytes that cannot come when a body ends in a lone CR inside a part (found by
/// fuzzing), so a stalled form ends here instead of holding its connection.
pub async fn next_part(
    form: &mut actix_multipart::Multipart,
    idle: std::time::Duration,
) -> Result<Option<actix_multipart::Field>, PageError> {
    match tokio::time::timeout(idle, form.try_next()).await {
        Ok(part) => part.map_err(bad_multipart),
        Err(_) => Err(PageError(Problem::bad_request(
            "the upload stopped arriving before its end",
        ))),
    }
}

/// Skips the rest of a part (a multipart stream must be read through to go on).
pub async fn drain<S>(part: &mut S) -> Result<(), PageError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, actix_multipart::MultipartError>> + Unpin,
{
    while part.try_next().await.map_err(bad_multipart)?.is_some() {}
    Ok(())
}

/// Reads a small text field of the upload form.
pub async fn text_field(field: &mut actix_multipart::Field) -> Result<String, PageError> {
    let mut value = Vec::new();
    while let Some(chunk) = field.try_next().await.map_err(bad_multipart)? {
        if value.len() + chunk.len() > 256 {
            return Err(PageError(Problem::bad_request("form field too long")));
        }
        value.extend_from_slice(&chunk);
    }
    String::from_utf8(value).map_err(|_| PageError(Problem::bad_request("form field is not UTF-8")))
}
