//! The one printer page (`templates/admin/printer.html`) that both the printer
//! handlers (`printers.rs`) and the output device handlers (`output_devices.rs`)
//! render: the printer as the admin sees it (what it takes and what PrintPark sends
//! it), its edit form (with a raw printer's language and the one it reported), and
//! for printers whose jobs are pulled (IPP INFRA) their output devices.

use actix_web::HttpResponse;
use askama::Template;

use crate::convert::{self, Format, JobLook, Plan, PrinterLanguage};
use crate::db::{OutputDeviceRow, PrinterRow};
use crate::identity::User;
use crate::release::printers::{format_cost, language_of, languages_reported};
use crate::release::push::foreign_uris;
use crate::release::{PrinterForm, printer_state_label};
use crate::web::AppState;
use crate::web::error::{PageError, Problem};
use crate::web::views::{Page, render, when};

/// What the admin pages show of a printer, ready to lay out.
pub struct PrinterView {
    pub id: i64,
    pub name: String,
    pub location: String,
    pub uri: String,
    pub disabled: bool,
    pub state: &'static str,
    /// `ok`, `bad` or empty: the colour of the state badge.
    pub state_class: &'static str,
    pub reasons: String,
    pub message: String,
    pub make_model: String,
    pub formats: Vec<String>,
    pub media: Vec<String>,
    pub colour: &'static str,
    pub duplex: &'static str,
    pub multi_document: &'static str,
    pub checked: String,
    pub tls_pin: Option<String>,
    /// IPP(S) URIs the printer advertised on another host than its URI's: never used
    /// unless the admin confirms one ("use this address").
    pub elsewhere: Vec<String>,
    /// `{base}/station/{guid}` and `{base}/r/{guid}`.
    pub station_url: String,
    pub phone_url: String,
    /// The formats the printer takes, for people ("PDF", "PWG raster", unknown MIME
    /// types as they are) with their MIME type; for a pulled printer, what its output
    /// device reported.
    pub takes: Vec<FormatView>,
    /// What PrintPark sends it of a PDF job ("PWG raster at 300 dpi (converted)").
    pub sends: String,
    /// Delivered over a raw port (socket://, or the raw protocol): its language matters.
    pub raw: bool,
    /// The admin's language for it ("PCL XL"), when set.
    pub language: Option<&'static str>,
    /// What it reported it speaks (SNMP), best first, for people.
    pub reported: Vec<&'static str>,
    /// The reported language to use, when none is set: (`pclxl`, "PCL XL").
    pub proposal: Option<(&'static str, &'static str)>,
}

impl PrinterView {
    pub fn new(p: &PrinterRow, base: &str) -> Self {
        let list = |text: &str| -> Vec<String> {
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "none")
                .map(str::to_owned)
                .collect()
        };
        let reported = languages_reported(p);
        let yes_no = |v: Option<bool>, yes, no| match v {
            Some(true) => yes,
            Some(false) => no,
            None => "—",
        };
        Self {
            id: p.id,
            name: p.name.clone(),
            location: p.location.clone(),
            uri: p.uri.clone(),
            disabled: p.disabled,
            state: printer_state_label(p),
            state_class: match p.state.as_str() {
                "idle" | "processing" => "ok",
                "stopped" | "unreachable" => "bad",
                _ => "",
            },
            reasons: list(&p.state_reasons).join(", "),
            message: p.state_message.clone(),
            make_model: p.make_model.clone(),
            formats: list(&p.formats),
            media: list(&p.media),
            colour: yes_no(p.color_supported, "colour", "black and white"),
            duplex: yes_no(p.duplex_supported, "two-sided", "one-sided only"),
            multi_document: if p.multi_document { "yes" } else { "no" },
            checked: p.checked_at.map(when).unwrap_or_else(|| "never".into()),
            tls_pin: p.tls_pin.clone(),
            elsewhere: if p.protocol == "infra" {
                Vec::new()
            } else {
                foreign_uris(&p.uri, &list(&p.uris_supported))
            },
            station_url: format!("{base}/station/{}", p.guid),
            phone_url: format!("{base}/r/{}", p.guid),
            takes: Vec::new(),
            sends: String::new(),
            raw: is_raw(p),
            language: language_of(p).map(PrinterLanguage::label),
            reported: reported.iter().map(|l| l.label()).collect(),
            proposal: match (language_of(p), reported.first()) {
                (None, Some(best)) => Some((best.as_str(), best.label())),
                _ => None,
            },
        }
        .with_formats(p, &list(&p.formats))
    }

    /// Sets what the printer takes and what PrintPark sends it, from `formats` (its
    /// `document-format-supported`, or for a pulled printer its device's).
    pub fn with_formats(mut self, p: &PrinterRow, formats: &[String]) -> Self {
        self.takes = formats
            .iter()
            .map(|f| FormatView {
                label: format_label(f),
                mime: f.clone(),
            })
            .collect();
        self.sends = sends(p, formats);
        self
    }
}

/// One format a printer takes: "PWG raster" (`image/pwg-raster`).
pub struct FormatView {
    pub label: String,
    pub mime: String,
}

impl FormatView {
    /// Whether the label says more than the MIME type (a format PrintPark knows).
    pub fn known(&self) -> bool {
        self.label != self.mime
    }
}

/// Whether jobs reach the printer over a raw port, where it cannot say what it takes.
fn is_raw(p: &PrinterRow) -> bool {
    p.protocol == "raw" || p.uri.starts_with("socket://")
}

/// "PWG raster" for `image/pwg-raster`; a MIME type PrintPark does not know as it is.
fn format_label(mime: &str) -> String {
    match Format::from_mime(mime) {
        Some(f) => f.label().to_owned(),
        None => mime.to_owned(),
    }
}

/// What PrintPark sends the printer of a PDF job (`convert::plan` with the job's
/// defaults): as it is, converted into what, or as parked when nothing is known.
fn sends(p: &PrinterRow, formats: &[String]) -> String {
    const PDF: &str = "application/pdf";
    let raw = is_raw(p);
    let language = if raw { language_of(p) } else { None };
    if formats.is_empty() && language.is_none() {
        return if p.protocol == "infra" {
            "as parked until its output device reports its formats".into()
        } else if raw {
            "as parked (printer language not set)".into()
        } else {
            "as parked (formats unknown)".into()
        };
    }
    // A raw printer takes its language only; an IPP printer applies ranges itself.
    let accepted: &[String] = if raw { &[] } else { formats };
    let plan = convert::plan(PDF, accepted, language, &JobLook::default(), !raw);
    let how = match plan {
        Ok(Plan::PassThrough) => format!("{} as it is", Format::Pdf.label()),
        Ok(Plan::Convert(spec)) => {
            let rendered = match spec.to {
                Format::PwgRaster | Format::Urf | Format::Pcl5 | Format::Jpeg => {
                    format!("{} at {} dpi", spec.to.label(), spec.dpi)
                }
                other => other.label().to_owned(),
            };
            format!("{rendered} (converted)")
        }
        Err(e) => return format!("nothing it can print: {e}"),
    };
    if language.is_some() {
        format!("{how}, its printer language")
    } else {
        how
    }
}

/// One choice of the protocol select.
pub struct ProtocolOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

pub fn protocol_options(chosen: &str) -> Vec<ProtocolOption> {
    const ALL: [(&str, &str); 5] = [
        ("auto", "Automatic: IPPS, then IPP, then raw"),
        ("ipps", "IPPS only (encrypted)"),
        ("ipp", "IPP (not encrypted)"),
        ("raw", "Raw port 9100 (no status)"),
        (
            "infra",
            "Pulled by its output device over HTTPS (IPP INFRA; the server never connects)",
        ),
    ];
    let chosen = if chosen.is_empty() { "auto" } else { chosen };
    ALL.iter()
        .map(|&(value, label)| ProtocolOption {
            value,
            label,
            selected: value == chosen,
        })
        .collect()
}

/// The choices of the printer language select: not set, then the four languages.
pub fn language_options(chosen: &str) -> Vec<ProtocolOption> {
    let mut options = vec![ProtocolOption {
        value: "",
        label: "Not set",
        selected: chosen.trim().is_empty(),
    }];
    options.extend(PrinterLanguage::ALL.iter().map(|l| ProtocolOption {
        value: l.as_str(),
        label: l.label(),
        selected: l.as_str().eq_ignore_ascii_case(chosen.trim()),
    }));
    options
}

pub fn form_of(p: &PrinterRow) -> PrinterForm {
    PrinterForm {
        name: p.name.clone(),
        location: p.location.clone(),
        uri: p.uri.clone(),
        protocol: p.protocol.clone(),
        cost_mono: format_cost(p.cost_mono_milli),
        cost_color: format_cost(p.cost_color_milli),
        language: p.language.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "admin/printer.html")]
pub struct PrinterPage {
    pub page: Page,
    pub printer: PrinterView,
    pub form: PrinterForm,
    pub protocols: Vec<ProtocolOption>,
    pub languages: Vec<ProtocolOption>,
    /// Output devices (INFRA printers only), and a new one's credentials shown once.
    pub infra: Option<InfraSection>,
}

pub async fn printer_page(
    page: Page,
    row: &PrinterRow,
    form: PrinterForm,
    base: &str,
    state: &AppState,
    admin: &User,
) -> Result<HttpResponse, PageError> {
    printer_page_with(page, row, form, base, state, admin, None).await
}

/// The printer's page showing a just-enrolled output device's (login, secret) once:
/// the GET after `output_devices::add` redirected (post/redirect/get).
pub async fn printer_page_with(
    page: Page,
    row: &PrinterRow,
    form: PrinterForm,
    base: &str,
    state: &AppState,
    admin: &User,
    new_device: Option<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let infra = section(state, admin, row, base, new_device).await?;
    render(&PrinterPage {
        page,
        printer: view_of(row, base, infra.as_ref()),
        protocols: protocol_options(&form.protocol),
        languages: language_options(&form.language),
        form,
        infra,
    })
}

/// The printer as its page shows it: a pulled printer takes what its output device
/// last reported (the first one that reported formats, not revoked).
pub fn view_of(row: &PrinterRow, base: &str, infra: Option<&InfraSection>) -> PrinterView {
    let view = PrinterView::new(row, base);
    match infra.and_then(|i| {
        i.devices
            .iter()
            .find(|d| !d.revoked && !d.format_list.is_empty())
    }) {
        Some(device) => view.with_formats(row, &device.format_list),
        None => view,
    }
}

pub struct DeviceView {
    pub id: i64,
    pub name: String,
    pub login: String,
    pub uuid: String,
    pub state: String,
    pub reasons: String,
    pub make_model: String,
    pub formats: String,
    /// The same, one MIME type each.
    pub format_list: Vec<String>,
    pub last_seen: String,
    pub revoked: bool,
    pub attributes: String,
}

impl DeviceView {
    fn new(d: &OutputDeviceRow) -> Self {
        Self {
            id: d.id,
            name: d.name.clone(),
            login: d.login.clone(),
            uuid: d
                .device_uuid
                .clone()
                .unwrap_or_else(|| "not registered".into()),
            state: d.state.clone(),
            reasons: d.state_reasons.replace(',', ", "),
            make_model: d.make_model.clone(),
            formats: d.formats.replace(',', ", "),
            format_list: d
                .formats
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
            last_seen: d.last_seen_at.map(when).unwrap_or_else(|| "never".into()),
            revoked: d.revoked_at.is_some(),
            attributes: d.attributes.clone(),
        }
    }
}

/// The INFRA part of a printer's page.
pub struct InfraSection {
    /// `ipps://host/ipp/system` (what a proxy is pointed at).
    pub system_uri: String,
    /// `ipps://host/ipp/infra/{guid}` (what a cloud-ready printer is pointed at).
    pub printer_uri: String,
    pub devices: Vec<DeviceView>,
    /// A device just enrolled: (login, secret), shown this once.
    pub enrolled: Option<(String, String)>,
}

pub async fn section(
    state: &AppState,
    admin: &User,
    printer: &PrinterRow,
    base: &str,
    enrolled: Option<(String, String)>,
) -> Result<Option<InfraSection>, PageError> {
    if printer.protocol != "infra" {
        return Ok(None);
    }
    let devices = state
        .services
        .release
        .infra()
        .devices_of(admin, printer.id)
        .await
        .map_err(|e| PageError(Problem::from(e)))?;
    let host = base.trim_start_matches("https://");
    Ok(Some(InfraSection {
        system_uri: format!("ipps://{host}/ipp/system"),
        printer_uri: format!("ipps://{host}/ipp/infra/{}", printer.guid),
        devices: devices.iter().map(DeviceView::new).collect(),
        enrolled,
    }))
}
