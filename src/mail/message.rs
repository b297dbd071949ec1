//! A message to send: recipient, subject, a plain-text body and optionally an HTML
//! one (sent as `multipart/alternative`). Bodies are encoded by lettre (quoted-printable
//! or base64 where needed), so the relay needs no 8BITMIME.

use lettre::Message;
use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::MailError;

/// What a caller wants sent.
#[derive(Debug, Clone, Default)]
pub struct OutgoingMail {
    /// One address, e.g. `ada@example.org` or `Ada <ada@example.org>`.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// The message as it goes on the wire, with the envelope the relay is told.
pub(super) struct BuiltMail {
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
}

impl OutgoingMail {
    /// A plain-text message.
    pub fn text(to: &str, subject: &str, text: String) -> Self {
        Self {
            to: to.to_owned(),
            subject: subject.to_owned(),
            text,
            html: None,
        }
    }

    /// Adds an HTML body beside the plain text.
    pub fn with_html(mut self, html: String) -> Self {
        self.html = Some(html);
        self
    }

    pub(super) fn build(&self, from: &str) -> Result<BuiltMail, MailError> {
        let from: Mailbox = from.parse().map_err(|_| {
            MailError::Invalid("the sender address of the mail settings is not valid".into())
        })?;
        let to: Mailbox = self
            .to
            .parse()
            .map_err(|_| MailError::Invalid(format!("`{}` is not an e-mail address", self.to)))?;
        let builder = Message::builder()
            .from(from)
            .to(to)
            .subject(self.subject.clone());
        let message = match &self.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                self.text.clone(),
                html.clone(),
            )),
            None => builder.singlepart(SinglePart::plain(self.text.clone())),
        }
        .map_err(|e| MailError::Invalid(format!("the message cannot be built: {e}")))?;
        Ok(BuiltMail {
            envelope: message.envelope().clone(),
            bytes: message.formatted(),
        })
    }
}
