//! How an assigned printer's tasks talk IPP INFRA to the server: the request builder
//! with the printer's output-device identity, and the two answer helpers both the
//! polling loop (`printer.rs`) and the delivery task (`delivery.rs`) use. Kept in a
//! room of their own below both, so neither imports the other's helpers.

use super::AgentError;
use super::channel::Channel;
use crate::ipp::client::new_request;
use crate::ipp::wire::{Attribute, Message, Value};
use crate::release::AgentPrinter;

/// One assigned printer's IPP requests to the server (the agent is its output device).
pub(super) struct Requests {
    pub channel: Channel,
    pub printer: AgentPrinter,
    pub uuid: String,
    pub path: String,
    pub printer_uri: String,
}

impl Requests {
    pub fn new(channel: Channel, printer: AgentPrinter) -> Self {
        let path = format!("/ipp/infra/{}", printer.guid);
        let printer_uri = channel.ipps_uri(&path);
        // Stable per printer and agent credential: the server sees one device.
        let uuid = format!("urn:uuid:{}", super::stable_uuid(&printer.device_login));
        Self {
            channel,
            printer,
            uuid,
            path,
            printer_uri,
        }
    }

    pub fn request(&self, operation: u16) -> Message {
        let mut request = new_request(operation, &self.printer_uri, &self.printer.device_login);
        request.groups[0].push(Attribute::new("output-device-uuid", Value::uri(&self.uuid)));
        request
    }

    pub fn job_request(&self, operation: u16, job_id: i64) -> Message {
        let mut request = self.request(operation);
        request.groups[0].push(Attribute::new("job-id", Value::Integer(job_id as i32)));
        request
    }

    /// Sends to the printer's INFRA path; an IPP error status becomes `Ipp`.
    pub async fn call(&self, request: &Message) -> Result<Message, AgentError> {
        let answer = self
            .channel
            .ipp(&self.path, self.credential(), request)
            .await?;
        ok(answer)
    }

    pub fn credential(&self) -> (&str, &str) {
        (&self.printer.device_login, &self.printer.device_secret)
    }
}

pub(super) fn ok(answer: Message) -> Result<Message, AgentError> {
    if answer.code <= 0x00FF {
        Ok(answer)
    } else {
        Err(AgentError::Ipp {
            status: answer.code,
            message: crate::ipp::client::status_message(&answer),
        })
    }
}
