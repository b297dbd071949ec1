//! The printers people release at, what each said about itself
//! at its last check (or over SNMP: the languages a raw printer speaks), the language
//! an admin set for a raw printer, and whether it is fit to take a job right now.

use std::time::Duration;

use crate::convert::PrinterLanguage;
use crate::db::{Db, DbError, PrinterCheck, PrinterFields, PrinterRow};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome};
use crate::identity::{ClientInfo, Identity, User};
use crate::ipp::client::{self, ClientError, PrinterReport, PrinterState, Timeouts};

use super::ReleaseError;
use super::push::foreign_uris;

mod form;

use form::validate;
pub use form::{PrinterForm, format_cost};

/// The printers people release at. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Printers {
    db: Db,
    identity: Identity,
    check_timeout: Duration,
}

impl Printers {
    pub fn new(db: Db, identity: Identity, check_timeout: Duration) -> Self {
        Self {
            db,
            identity,
            check_timeout,
        }
    }

    pub async fn list(&self) -> Result<Vec<PrinterRow>, ReleaseError> {
        Ok(self.db.printers().await?)
    }

    pub async fn by_id(&self, id: i64) -> Result<PrinterRow, ReleaseError> {
        self.db.printer_by_id(id).await.map_err(not_found)
    }

    pub async fn by_guid(&self, guid: &str) -> Result<PrinterRow, ReleaseError> {
        self.db.printer_by_guid(guid).await.map_err(not_found)
    }

    /// A printer people may release at (found and enabled).
    pub async fn usable(&self, guid: &str) -> Result<PrinterRow, ReleaseError> {
        let printer = self.by_guid(guid).await?;
        if printer.disabled {
            return Err(ReleaseError::PrinterDisabled);
        }
        Ok(printer)
    }

    /// Adds a printer with a new random GUID (what its QR label carries), then asks it
    /// for its capabilities and state (a printer that does not answer is still added).
    pub async fn add(
        &self,
        admin: &User,
        form: &PrinterForm,
        client: &ClientInfo,
    ) -> Result<PrinterRow, ReleaseError> {
        crate::identity::people::require_admin(admin)?;
        let (uri, protocol, mono, color) = validate(form)?;
        let language = form::language(form)?;
        let guid = uuid::Uuid::new_v4().to_string();
        let fields = PrinterFields {
            name: form.name.trim(),
            location: form.location.trim(),
            uri: &uri,
            protocol,
            cost_mono_milli: mono,
            cost_color_milli: color,
        };
        let row = match self.db.insert_printer(&guid, &fields).await {
            Err(DbError::Conflict(_)) => {
                return Err(ReleaseError::NotAllowed(format!(
                    "a printer named “{}” already exists",
                    fields.name
                )));
            }
            other => other?,
        };
        if let Some(language) = language {
            self.db
                .set_printer_language(row.id, Some(language.as_str()))
                .await?;
        }
        self.identity
            .audit(AuditEvent {
                actor: Some(admin),
                action: AuditAction::PrinterAdd,
                target: &row.name,
                outcome: AuditOutcome::Success,
                client,
                detail: &audit_detail(&uri, language),
            })
            .await?;
        let _ = self.check(&row, false).await;
        self.by_id(row.id).await
    }

    pub async fn update(
        &self,
        admin: &User,
        id: i64,
        form: &PrinterForm,
        client: &ClientInfo,
    ) -> Result<(), ReleaseError> {
        crate::identity::people::require_admin(admin)?;
        let (uri, protocol, mono, color) = validate(form)?;
        let language = form::language(form)?;
        let fields = PrinterFields {
            name: form.name.trim(),
            location: form.location.trim(),
            uri: &uri,
            protocol,
            cost_mono_milli: mono,
            cost_color_milli: color,
        };
        match self.db.update_printer(id, &fields).await {
            Err(DbError::Conflict(_)) => {
                return Err(ReleaseError::NotAllowed(format!(
                    "a printer named “{}” already exists",
                    fields.name
                )));
            }
            other => other.map_err(not_found)?,
        }
        self.db
            .set_printer_language(id, language.map(PrinterLanguage::as_str))
            .await
            .map_err(not_found)?;
        self.identity
            .audit(AuditEvent {
                actor: Some(admin),
                action: AuditAction::PrinterUpdate,
                target: fields.name,
                outcome: AuditOutcome::Success,
                client,
                detail: &audit_detail(&uri, language),
            })
            .await?;
        Ok(())
    }

    pub async fn set_disabled(
        &self,
        admin: &User,
        id: i64,
        disabled: bool,
        client: &ClientInfo,
    ) -> Result<(), ReleaseError> {
        crate::identity::people::require_admin(admin)?;
        let printer = self.by_id(id).await?;
        self.db.set_printer_disabled(id, disabled).await?;
        let action = if disabled {
            AuditAction::PrinterDisable
        } else {
            AuditAction::PrinterEnable
        };
        self.identity
            .audit(AuditEvent {
                actor: Some(admin),
                action,
                target: &printer.name,
                outcome: AuditOutcome::Success,
                client,
                detail: "",
            })
            .await?;
        Ok(())
    }

    pub async fn delete(
        &self,
        admin: &User,
        id: i64,
        client: &ClientInfo,
    ) -> Result<(), ReleaseError> {
        crate::identity::people::require_admin(admin)?;
        let printer = self.by_id(id).await?;
        self.db.delete_printer(id).await.map_err(|e| match e {
            DbError::Other(_) => ReleaseError::NotAllowed(
                "this printer has releases in its history; disable it instead".into(),
            ),
            other => other.into(),
        })?;
        self.identity
            .audit(AuditEvent {
                actor: Some(admin),
                action: AuditAction::PrinterDelete,
                target: &printer.name,
                outcome: AuditOutcome::Success,
                client,
                detail: "",
            })
            .await?;
        Ok(())
    }

    /// Points the printer at an address it advertised on another host than its
    /// configured one. Delivery never tries such an address by itself (a printer, or
    /// whoever answered in its place, could send jobs anywhere that way): an admin
    /// confirms it here, for the URI they saw on the page (`seen_uri`), and it is
    /// audited. The pinned certificate belonged to the old host and is forgotten.
    pub async fn use_advertised_uri(
        &self,
        admin: &User,
        id: i64,
        seen_uri: &str,
        new_uri: &str,
        client: &ClientInfo,
    ) -> Result<(), ReleaseError> {
        crate::identity::people::require_admin(admin)?;
        let printer = self.by_id(id).await?;
        let advertised: Vec<String> = printer
            .uris_supported
            .split(',')
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        if printer.protocol == "infra"
            || !foreign_uris(&printer.uri, &advertised)
                .iter()
                .any(|u| u == new_uri)
        {
            return Err(ReleaseError::NotAllowed(
                "the printer does not advertise that address (any more): check it again".into(),
            ));
        }
        match self.db.move_printer_uri(id, seen_uri, new_uri).await {
            Err(DbError::NotFound) => {
                return Err(ReleaseError::NotAllowed(
                    "the printer's address changed meanwhile: look at it again".into(),
                ));
            }
            other => other?,
        }
        self.identity
            .audit(AuditEvent {
                actor: Some(admin),
                action: AuditAction::PrinterUseAdvertisedUri,
                target: &printer.name,
                outcome: AuditOutcome::Success,
                client,
                detail: &format!("{} → {new_uri}", printer.uri),
            })
            .await?;
        Ok(())
    }

    /// Asks the printer for its capabilities and state and records them. With
    /// `accept_new_certificate`, a changed TLS certificate is pinned anew (the admin
    /// confirmed the printer was replaced or re-keyed).
    pub async fn check(
        &self,
        printer: &PrinterRow,
        accept_new_certificate: bool,
    ) -> Result<Option<PrinterReport>, ReleaseError> {
        if printer.protocol == "infra" {
            // Never contacted: its output devices report its state.
            return Ok(None);
        }
        let timeouts = self.timeouts();
        let (check, report) = if printer.uri.starts_with("socket://") {
            (self.check_raw(&printer.uri).await, None)
        } else {
            let pin = if accept_new_certificate {
                None
            } else {
                printer.tls_pin.as_deref()
            };
            match client::get_printer_attributes(&printer.uri, pin, &timeouts).await {
                Ok(report) => {
                    let elsewhere = foreign_uris(&printer.uri, &report.uris_supported);
                    if !elsewhere.is_empty() {
                        // Kept in uris_supported and shown on the printer's page;
                        // never used without the admin's confirmation.
                        tracing::warn!(printer = %printer.name, advertised = ?elsewhere, "the printer advertises addresses on another host; they are not used unless an admin confirms one");
                    }
                    (check_of(&report), Some(report))
                }
                Err(e) => (
                    PrinterCheck {
                        state: "unreachable".into(),
                        state_message: describe(&e),
                        ..Default::default()
                    },
                    None,
                ),
            }
        };
        self.db
            .record_printer_check(printer.id, &check, accept_new_certificate)
            .await?;
        Ok(report)
    }

    /// Checks the printer right before a release; the sentence says what is wrong.
    pub async fn check_ready(&self, printer: &PrinterRow) -> Result<(), String> {
        match self.check(printer, false).await {
            Ok(Some(report)) => match report.blocking_problem() {
                Some(problem) => Err(problem),
                None => Ok(()),
            },
            Ok(None) => {
                let row = self.by_id(printer.id).await.map_err(|e| e.to_string())?;
                if row.state == "unreachable" {
                    Err(format!(
                        "The printer {} does not answer ({}).",
                        row.name, row.state_message
                    ))
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(format!("The printer could not be checked: {e}.")),
        }
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts {
            connect: self.check_timeout,
            handshake: self.check_timeout,
            response: self.check_timeout,
            ..Timeouts::default()
        }
    }

    /// A raw port says nothing about itself: whether it accepts a connection.
    async fn check_raw(&self, uri: &str) -> PrinterCheck {
        let target = raw_address(uri);
        let result =
            tokio::time::timeout(self.check_timeout, tokio::net::TcpStream::connect(&target)).await;
        match result {
            Ok(Ok(_)) => PrinterCheck {
                state: "idle".into(),
                state_message: "raw port 9100 accepts connections (no status available)".into(),
                ..Default::default()
            },
            Ok(Err(e)) => PrinterCheck {
                state: "unreachable".into(),
                state_message: format!("{target}: {e}"),
                ..Default::default()
            },
            Err(_) => PrinterCheck {
                state: "unreachable".into(),
                state_message: format!(
                    "{target}: no answer within {} s",
                    self.check_timeout.as_secs()
                ),
                ..Default::default()
            },
        }
    }
}

/// What a printer's add or edit audit says: its URI, and its language when set.
fn audit_detail(uri: &str, language: Option<PrinterLanguage>) -> String {
    match language {
        Some(l) => format!("{uri}, language {}", l.as_str()),
        None => uri.to_owned(),
    }
}

/// The language a printer's jobs are converted into when its formats are not known
/// (a raw printer): the admin's setting. The one the printer reported is only proposed
/// on its page, never used by itself.
pub fn language_of(printer: &PrinterRow) -> Option<PrinterLanguage> {
    printer.language.as_deref().and_then(|l| l.parse().ok())
}

/// The languages the printer reported of itself (SNMP), best first.
pub fn languages_reported(printer: &PrinterRow) -> Vec<PrinterLanguage> {
    printer
        .language_reported
        .as_deref()
        .map(PrinterLanguage::parse_list)
        .unwrap_or_default()
}

fn not_found(e: DbError) -> ReleaseError {
    match e {
        DbError::NotFound => ReleaseError::PrinterNotFound,
        other => other.into(),
    }
}

/// `host:port` of a `socket://host[:port]` URI (port 9100 by default).
pub fn raw_address(uri: &str) -> String {
    let rest = uri.trim_start_matches("socket://").trim_end_matches('/');
    if rest
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !rest.ends_with(']')
    {
        rest.to_string()
    } else {
        format!("{rest}:9100")
    }
}

fn describe(e: &ClientError) -> String {
    e.to_string()
}

fn check_of(report: &PrinterReport) -> PrinterCheck {
    PrinterCheck {
        make_model: Some(report.make_model.clone()),
        formats: Some(report.formats.join(",")),
        uris_supported: Some(report.uris_supported.join(",")),
        color_supported: Some(report.color_supported),
        duplex_supported: Some(report.duplex_supported),
        media: Some(report.media.join(",")),
        multi_document: Some(report.multi_document),
        state: match report.state {
            PrinterState::Idle => "idle",
            PrinterState::Processing => "processing",
            PrinterState::Stopped => "stopped",
        }
        .into(),
        state_reasons: report.reasons.join(","),
        state_message: report.message.clone(),
        tls_pin: report.cert_sha256.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_addresses_default_to_port_9100() {
        assert_eq!(raw_address("socket://10.0.0.5"), "10.0.0.5:9100");
        assert_eq!(raw_address("socket://10.0.0.5:9101/"), "10.0.0.5:9101");
    }
}
