//! The two IPP status mappings, side by side: the secure queue's (`JobError`) and the
//! INFRA printer's (`InfraError`). Each domain error becomes one IPP status code and a
//! message; what the client may not learn (a database failure) is logged here and
//! answered as server-error-internal-error.

use crate::convert::ConvertError;
use crate::ipp::status;
use crate::jobs::JobError;
use crate::release::{InfraError, ReleaseError};

/// The secure queue's refusal for a job service error.
pub(super) fn job_error(error: JobError) -> (u16, String) {
    let message = error.to_string();
    let code = match error {
        JobError::NotFound => status::NOT_FOUND,
        JobError::TooLarge(_) => status::REQUEST_ENTITY_TOO_LARGE,
        JobError::TooManyHeld(_) => status::TOO_MANY_JOBS,
        JobError::TooManyPending(_) => status::TOO_MANY_JOBS,
        JobError::OverQuota(_) => status::REQUEST_ENTITY_TOO_LARGE,
        // server-error-too-many-documents (PWG 5100.7).
        JobError::TooManyDocuments(_) => 0x050C,
        // server-error-job-canceled: the client's document stopped arriving.
        JobError::Interrupted(_) => 0x0508,
        JobError::Compression(_) => status::COMPRESSION_ERROR,
        JobError::NotPossible(_) => status::NOT_POSSIBLE,
        JobError::FormatNotAccepted(_) | JobError::Empty => status::DOCUMENT_FORMAT_NOT_SUPPORTED,
        // Issue 20: copies outside copies-supported.
        JobError::Copies(_) => status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
        other => {
            tracing::error!(error = %other, "IPP operation failed");
            return (
                status::INTERNAL_ERROR,
                "the server could not store the job".into(),
            );
        }
    };
    (code, message)
}

/// The INFRA printer's refusal for an output-device service error.
pub(super) fn infra_error(error: InfraError) -> (u16, String) {
    let message = error.to_string();
    let code = match error {
        InfraError::Unauthenticated | InfraError::AwaitingApproval => status::NOT_AUTHENTICATED,
        InfraError::NotFetchable(_) => status::NOT_FETCHABLE,
        InfraError::FormatNotAccepted(_) => status::DOCUMENT_FORMAT_NOT_SUPPORTED,
        InfraError::NotFound(_) => status::NOT_FOUND,
        InfraError::NotPossible(_) => status::NOT_POSSIBLE,
        InfraError::BadRequest(_) => status::BAD_REQUEST,
        InfraError::Conversion(ref e) => match e {
            ConvertError::Unsupported(_) => status::DOCUMENT_FORMAT_NOT_SUPPORTED,
            ConvertError::Render { .. } | ConvertError::Timeout(_) | ConvertError::Died => {
                status::DOCUMENT_FORMAT_ERROR
            }
            ConvertError::Unavailable(_) | ConvertError::Source(_) => {
                tracing::error!(error = %e, "converting an INFRA document failed");
                status::INTERNAL_ERROR
            }
        },
        InfraError::Release(ReleaseError::NotFound) => status::NOT_FOUND,
        InfraError::Release(other) => {
            tracing::error!(error = %other, "an INFRA operation failed");
            return (
                status::INTERNAL_ERROR,
                "the server could not complete the request".into(),
            );
        }
    };
    (code, message)
}
