//! What a printer says about itself, reduced to what PrintPark decides with.

use crate::ipp::wire::{Group, Message, Value, group};

/// The attributes `get_printer_attributes` asks for: only these, so that printers
/// with a long media database answer quickly.
pub(super) const REQUESTED: &[&str] = &[
    "printer-state",
    "printer-state-reasons",
    "printer-state-message",
    "printer-is-accepting-jobs",
    "printer-make-and-model",
    "document-format-supported",
    "printer-uri-supported",
    "color-supported",
    "sides-supported",
    "media-supported",
    "multiple-document-jobs-supported",
    "operations-supported",
];

/// printer-state (RFC 8011 §5.4.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterState {
    /// Ready, not printing.
    Idle,
    /// Printing (jobs may still be accepted and queued).
    Processing,
    /// Cannot print until someone intervenes (see the reasons).
    Stopped,
}

/// A printer's state and capabilities from Get-Printer-Attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterReport {
    /// printer-state.
    pub state: PrinterState,
    /// printer-state-reasons without "none".
    pub reasons: Vec<String>,
    /// printer-state-message.
    pub message: String,
    /// printer-is-accepting-jobs.
    pub accepting_jobs: bool,
    /// printer-make-and-model.
    pub make_model: String,
    /// document-format-supported.
    pub formats: Vec<String>,
    /// printer-uri-supported.
    pub uris_supported: Vec<String>,
    /// color-supported.
    pub color_supported: bool,
    /// sides-supported has a two-sided value.
    pub duplex_supported: bool,
    /// media-supported.
    pub media: Vec<String>,
    /// multiple-document-jobs-supported.
    pub multi_document: bool,
    /// operations-supported.
    pub operations: Vec<u16>,
    /// SHA-256 of the TLS certificate the printer showed (ipps only), to pin it.
    pub cert_sha256: Option<String>,
}

/// Reasons that keep a job from printing, and how to say so. A reason matches its
/// keyword or a vendor refinement of it (`media-jam-tray-2`).
const BLOCKING: &[(&str, &str)] = &[
    ("media-jam", "Paper jam"),
    ("media-empty", "The printer is out of paper"),
    ("media-needed", "The printer needs paper"),
    ("toner-empty", "The printer is out of toner"),
    ("marker-supply-empty", "The printer is out of ink or toner"),
    ("door-open", "A door of the printer is open"),
    ("cover-open", "A cover of the printer is open"),
    ("interlock-open", "An interlock of the printer is open"),
    ("input-tray-missing", "A paper tray is missing"),
    ("output-area-full", "The output tray is full"),
    ("offline", "The printer is offline"),
    ("paused", "The printer is paused"),
    ("shutdown", "The printer is shutting down"),
    ("spool-area-full", "The printer's spool area is full"),
    ("stopped-partly", "Part of the printer is stopped"),
];

/// Supplies that are out: these block even as "-report". CUPS-derived printers
/// (ippeveprinter among them) pick the suffix from printer-state, not from severity,
/// so an idle printer with an empty tray says "media-empty-report"; releasing to it
/// would leave the job waiting at the device for whoever refills it. A "-warning"
/// (a multi-tray printer with paper elsewhere, a job in progress) still does not block.
const BLOCKING_AS_REPORT: &[&str] = &[
    "media-empty",
    "media-needed",
    "toner-empty",
    "marker-supply-empty",
];

impl PrinterReport {
    pub(super) fn from_response(response: &Message, cert_sha256: Option<String>) -> Self {
        let empty = Group::new(group::PRINTER);
        let printer = response.group(group::PRINTER).unwrap_or(&empty);
        let strings = |name: &str| -> Vec<String> {
            printer
                .strings(name)
                .into_iter()
                .map(str::to_owned)
                .collect()
        };
        let first = |name: &str| printer.get(name).and_then(|a| a.first());
        let flag = |name: &str| first(name).and_then(Value::as_bool).unwrap_or(false);
        let state = match first("printer-state").and_then(Value::as_int) {
            Some(5) => PrinterState::Stopped,
            Some(4) => PrinterState::Processing,
            _ => PrinterState::Idle,
        };
        let operations = printer
            .get("operations-supported")
            .map(|a| {
                a.values
                    .iter()
                    .filter_map(Value::as_int)
                    .filter_map(|o| u16::try_from(o).ok())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            state,
            reasons: strings("printer-state-reasons")
                .into_iter()
                .filter(|r| r != "none")
                .collect(),
            message: strings("printer-state-message").join(" "),
            // A printer that leaves it out is taken to accept jobs: the job's own
            // answer tells otherwise.
            accepting_jobs: first("printer-is-accepting-jobs")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            make_model: strings("printer-make-and-model").join(" "),
            formats: strings("document-format-supported"),
            uris_supported: strings("printer-uri-supported"),
            color_supported: flag("color-supported"),
            duplex_supported: strings("sides-supported")
                .iter()
                .any(|s| s.starts_with("two-sided")),
            media: strings("media-supported"),
            multi_document: flag("multiple-document-jobs-supported"),
            operations,
            cert_sha256,
        }
    }

    /// A sentence for the person at the release station when a release must not
    /// start now (the job would wait inside the printer, out of PrintPark's hands),
    /// or `None` when the printer can take it.
    pub fn blocking_problem(&self) -> Option<String> {
        for reason in &self.reasons {
            let (keyword, severity) = split_severity(reason);
            let Some((key, sentence)) = BLOCKING
                .iter()
                .find(|(k, _)| keyword == *k || keyword.starts_with(&format!("{k}-")))
            else {
                continue;
            };
            let blocks = match severity {
                Severity::Error => true,
                Severity::Report => BLOCKING_AS_REPORT.contains(key),
                Severity::Warning => false,
            };
            if blocks {
                return Some(format!("{sentence} ({key})."));
            }
        }
        if self.state == PrinterState::Stopped {
            return Some("The printer is stopped.".into());
        }
        if !self.accepting_jobs {
            return Some("The printer is not accepting jobs.".into());
        }
        None
    }
}

enum Severity {
    Error,
    Warning,
    Report,
}

/// RFC 8011 §5.4.12: a reason without a suffix is an error.
fn split_severity(reason: &str) -> (&str, Severity) {
    if let Some(k) = reason.strip_suffix("-error") {
        (k, Severity::Error)
    } else if let Some(k) = reason.strip_suffix("-warning") {
        (k, Severity::Warning)
    } else if let Some(k) = reason.strip_suffix("-report") {
        (k, Severity::Report)
    } else {
        (reason, Severity::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(state: PrinterState, reasons: &[&str], accepting: bool) -> PrinterReport {
        PrinterReport {
            state,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            message: String::new(),
            accepting_jobs: accepting,
            make_model: String::new(),
            formats: vec![],
            uris_supported: vec![],
            color_supported: false,
            duplex_supported: false,
            media: vec![],
            multi_document: false,
            operations: vec![],
            cert_sha256: None,
        }
    }

    #[test]
    fn only_errors_and_empty_supplies_block_a_release() {
        let idle = PrinterState::Idle;
        assert_eq!(report(idle, &[], true).blocking_problem(), None);
        assert_eq!(
            report(idle, &["toner-low-warning"], true).blocking_problem(),
            None
        );
        assert_eq!(
            report(idle, &["media-jam-warning"], true).blocking_problem(),
            None
        );
        assert_eq!(
            report(idle, &["media-jam-error"], true)
                .blocking_problem()
                .as_deref(),
            Some("Paper jam (media-jam).")
        );
        assert_eq!(
            report(idle, &["media-empty-report"], true)
                .blocking_problem()
                .as_deref(),
            Some("The printer is out of paper (media-empty).")
        );
        assert_eq!(
            report(idle, &["cover-open"], true)
                .blocking_problem()
                .as_deref(),
            Some("A cover of the printer is open (cover-open).")
        );
        assert_eq!(
            report(idle, &["cover-open-report"], true).blocking_problem(),
            None
        );
        assert_eq!(
            report(PrinterState::Stopped, &[], true)
                .blocking_problem()
                .as_deref(),
            Some("The printer is stopped.")
        );
        assert_eq!(
            report(idle, &[], false).blocking_problem().as_deref(),
            Some("The printer is not accepting jobs.")
        );
    }
}
