//! What every INFRA operation works with: the request's context (the service, the
//! output device calling, the printer it reached) and the answer, which for
//! Fetch-Document carries the document that follows it.

use tokio::io::AsyncRead;

use crate::ipp::printer::QueueDescription;
use crate::ipp::wire::{Message, Value};
use crate::release::{DeviceCaller, Infra};

/// Everything one request may use.
pub struct InfraContext<'a> {
    pub infra: &'a Infra,
    pub caller: &'a DeviceCaller,
    /// The printer's description as the device reached it (its URI is the
    /// printer's `/ipp/infra/{guid}`).
    pub queue: QueueDescription,
    /// `ipps://host:port/ipp/system`
    pub system_uri: String,
    /// The request came to the system URI.
    pub on_system: bool,
    /// `server.public_url`: a target URI may name its host too.
    pub public_url: Option<String>,
}

/// A response, and for Fetch-Document the document that follows it.
pub struct Answer {
    pub message: Message,
    pub document: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// The document is sent gzip-compressed.
    pub gzip: bool,
}

impl Answer {
    pub(super) fn plain(message: Message) -> Self {
        Self {
            message,
            document: None,
            gzip: false,
        }
    }
}

pub(super) type OpResult = Result<Answer, (u16, String)>;

/// The integers of the operation attribute `name` (ids, sequence numbers); none when
/// it is absent.
pub(super) fn integers(request: &Message, name: &str) -> Vec<i64> {
    request
        .operation_attr(name)
        .map(|a| {
            a.values
                .iter()
                .filter_map(Value::as_int)
                .map(i64::from)
                .collect()
        })
        .unwrap_or_default()
}
