//! The one printer page (`templates/admin/printer.html`) that both the printer
//! handlers (`printers.rs`) and the output device handlers (`output_devices.rs`)
//! render: the printer as the admin sees it, its edit form, and for printers whose
//! jobs are pulled (IPP INFRA) their output devices.

use actix_web::HttpResponse;
use askama::Template;

use crate::db::{OutputDeviceRow, PrinterRow};
use crate::identity::User;
use crate::release::printers::format_cost;
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
        }
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

pub fn form_of(p: &PrinterRow) -> PrinterForm {
    PrinterForm {
        name: p.name.clone(),
        location: p.location.clone(),
        uri: p.uri.clone(),
        protocol: p.protocol.clone(),
        cost_mono: format_cost(p.cost_mono_milli),
        cost_color: format_cost(p.cost_color_milli),
    }
}

#[derive(Template)]
#[template(path = "admin/printer.html")]
pub struct PrinterPage {
    pub page: Page,
    pub printer: PrinterView,
    pub form: PrinterForm,
    pub protocols: Vec<ProtocolOption>,
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
    let infra = section(state, admin, row, base, None).await?;
    render(&PrinterPage {
        page,
        printer: PrinterView::new(row, base),
        protocols: protocol_options(&form.protocol),
        form,
        infra,
    })
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
