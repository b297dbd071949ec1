//! Admin pages for the devices SNMP discovery found: the list (filter, sort, status
//! colour, lowest supply) and one device (all it reported, supplies, alerts, pages per
//! day and toner curves as SVG drawn here), with "Make it a release printer".

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::DeviceRow;
use crate::identity::ClientInfo;
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, CsrfOnly, SignedForm};
use crate::web::views::{Page, redirect, render, when};

mod charts;

use charts::{SupplyView, colour_of, meter_chart, supply_view, toner_chart};

use crate::devices::LOW_SUPPLY_PERCENT as LOW_PERCENT;
/// How far back the charts look.
const HISTORY_DAYS: i64 = 90;
const DAY: i64 = 24 * 3600;

/// The name a device goes by: what it calls itself, else its model, else its address.
fn device_name(d: &DeviceRow) -> String {
    [&d.sys_name, &d.model, &d.ip]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_default()
}

/// Label and badge class of a device status.
fn status_of(status: &str) -> (&'static str, &'static str) {
    match status {
        "ok" => ("OK", "ok"),
        "warning" => ("Warning", "warn"),
        "error" => ("Error", "bad"),
        "offline" => ("Offline", "off"),
        _ => ("Unknown", ""),
    }
}

/// Worst first, for sorting by status.
fn severity(status: &str) -> u8 {
    match status {
        "error" => 0,
        "offline" => 1,
        "warning" => 2,
        "unknown" => 3,
        _ => 4,
    }
}

fn dash(text: &str) -> String {
    if text.trim().is_empty() {
        "—".into()
    } else {
        text.into()
    }
}

/// A row of the devices list, ready to lay out.
pub struct DeviceLine {
    pub id: i64,
    pub name: String,
    pub ip: String,
    pub mac: String,
    pub serial: String,
    pub make_model: String,
    pub location: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub lowest: String,
    pub low: bool,
    pub seen: String,
    pub printer_id: Option<i64>,
}

/// `?kind=&status=&q=&sort=`, each with a default.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    kind: Option<String>,
    status: Option<String>,
    q: Option<String>,
    sort: Option<String>,
}

/// One choice of a filter select.
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

fn choices(all: &[(&'static str, &'static str)], chosen: &str) -> Vec<Choice> {
    all.iter()
        .map(|&(value, label)| Choice {
            value,
            label,
            selected: value == chosen,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/devices.html")]
struct DevicesPage {
    page: Page,
    devices: Vec<DeviceLine>,
    kinds: Vec<Choice>,
    statuses: Vec<Choice>,
    sorts: Vec<Choice>,
    q: String,
    counts: String,
    any: bool,
}

pub async fn list(
    state: web::Data<AppState>,
    who: Admin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let s = &state.services;
    let all = s.devices.list().await?;
    let kind = pick(query.kind.as_deref(), &["printer", "other", "all"]);
    let status = pick(
        query.status.as_deref(),
        &["all", "ok", "warning", "error", "offline", "unknown", "low"],
    );
    let sort = pick(query.sort.as_deref(), &["ip", "name", "status", "seen"]);
    let q = query.q.as_deref().unwrap_or("").trim().to_lowercase();
    let lowest_of = s.devices.lowest_supplies().await?;
    let mut shown = Vec::new();
    for d in all.iter().filter(|d| kind == "all" || d.kind == kind) {
        if !(status == "all" || status == "low" || d.status == status) || !matches_text(d, &q) {
            continue;
        }
        let lowest = lowest_of.get(&d.id).copied();
        let low = lowest.is_some_and(|p| p < LOW_PERCENT);
        if status == "low" && !low {
            continue;
        }
        shown.push((d, lowest, low));
    }
    match sort {
        "name" => shown.sort_by_key(|(d, ..)| device_name(d).to_lowercase()),
        "status" => shown.sort_by_key(|(d, ..)| (severity(&d.status), ip_key(&d.ip))),
        "seen" => shown.sort_by_key(|(d, ..)| std::cmp::Reverse(d.last_seen)),
        _ => shown.sort_by_key(|(d, ..)| ip_key(&d.ip)),
    }
    let printers = all.iter().filter(|d| d.kind == "printer").count();
    let counts = format!(
        "Showing {} of {} devices: {printers} printers, {} other devices; {} in error, {} offline.",
        shown.len(),
        all.len(),
        all.len() - printers,
        all.iter().filter(|d| d.status == "error").count(),
        all.iter().filter(|d| d.status == "offline").count(),
    );
    let devices = shown
        .into_iter()
        .map(|(d, lowest, low)| {
            let (label, class) = status_of(&d.status);
            DeviceLine {
                id: d.id,
                name: device_name(d),
                ip: d.ip.clone(),
                mac: dash(d.mac.as_deref().unwrap_or("")),
                serial: dash(d.serial.as_deref().unwrap_or("")),
                make_model: dash(&make_and_model(&d.manufacturer, &d.model)),
                location: dash(&d.location),
                status: label,
                status_class: class,
                lowest: lowest.map_or("—".into(), |p| format!("{p} %")),
                low,
                seen: when(d.last_seen),
                printer_id: d.printer_id,
            }
        })
        .collect();
    render(&DevicesPage {
        page: Page::for_user("Devices", &s.identity, &who.0),
        devices,
        kinds: choices(
            &[
                ("printer", "Printers"),
                ("other", "Other devices"),
                ("all", "All"),
            ],
            kind,
        ),
        statuses: choices(
            &[
                ("all", "Any status"),
                ("ok", "OK"),
                ("warning", "Warning"),
                ("error", "Error"),
                ("offline", "Offline"),
                ("unknown", "Unknown"),
                ("low", "Low supplies"),
            ],
            status,
        ),
        sorts: choices(
            &[
                ("ip", "Address"),
                ("name", "Name"),
                ("status", "Status (worst first)"),
                ("seen", "Last seen"),
            ],
            sort,
        ),
        q: query.q.clone().unwrap_or_default(),
        counts,
        any: !all.is_empty(),
    })
}

/// The value given if it is one of `allowed`, else the first of `allowed` (the default).
fn pick(given: Option<&str>, allowed: &[&'static str]) -> &'static str {
    allowed
        .iter()
        .find(|a| Some(**a) == given)
        .unwrap_or(&allowed[0])
}

fn matches_text(d: &DeviceRow, q: &str) -> bool {
    q.is_empty()
        || [
            &d.ip,
            &d.sys_name,
            &d.manufacturer,
            &d.model,
            &d.description,
            &d.location,
            &d.asset,
        ]
        .into_iter()
        .chain(d.mac.as_ref())
        .chain(d.serial.as_ref())
        .any(|field| field.to_lowercase().contains(q))
}

/// Addresses sort by number (10.0.0.9 before 10.0.0.10); anything else after them.
fn ip_key(ip: &str) -> (u8, u32, String) {
    match ip.parse::<std::net::Ipv4Addr>() {
        Ok(v4) => (0, u32::from(v4), String::new()),
        Err(_) => (1, 0, ip.to_owned()),
    }
}

/// The device detail page, ready to lay out.
#[derive(Template)]
#[template(path = "admin/device.html")]
struct DevicePage {
    page: Page,
    d: DeviceRow,
    status: &'static str,
    status_class: &'static str,
    colour: &'static str,
    errors: Vec<String>,
    display: Vec<String>,
    alerts: Vec<String>,
    first_seen: String,
    last_seen: String,
    last_polled: String,
    last_meter: String,
    supplies: Vec<SupplyView>,
    /// The charts as `<svg>` elements (numbers and fixed markup only), `None` when
    /// there are not enough reads yet.
    meter_chart: Option<String>,
    toner_chart: Option<String>,
    legend: Vec<(String, &'static str)>,
}

fn lines(text: &str, separator: char) -> Vec<String> {
    text.split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn device_page(
    state: &AppState,
    who: &Admin,
    id: i64,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let s = &state.services;
    let d = s.devices.device(id).await?;
    let supplies = s.devices.supplies(id).await?;
    let now = crate::clock::now();
    let since = now - HISTORY_DAYS * DAY;
    let meters = s.devices.meters(id, since).await?;
    let history = s.devices.supply_history(id, since).await?;
    let name = device_name(&d);
    let mut page = Page::for_user(&format!("Device {name}"), &s.identity, &who.0);
    if let Some(error) = error {
        page = page.with_error(error);
    }
    let (status, status_class) = status_of(&d.status);
    let legend = supplies
        .iter()
        .filter(|x| {
            history
                .iter()
                .any(|p| p.idx == x.idx && p.percent.is_some())
        })
        .map(|x| (dash(&x.description), colour_of(x)))
        .collect();
    let opt_when = |t: Option<i64>| t.map_or("never".into(), when);
    render(&DevicePage {
        page,
        status,
        status_class,
        colour: match d.color {
            Some(true) => "colour",
            Some(false) => "black and white",
            None => "—",
        },
        errors: lines(&d.error_state, ','),
        display: lines(&d.display, '\n'),
        alerts: lines(&d.alerts, '\n'),
        first_seen: when(d.first_seen),
        last_seen: when(d.last_seen),
        last_polled: opt_when(d.last_polled),
        last_meter: opt_when(d.last_meter_at),
        meter_chart: meter_chart(&meters, now),
        toner_chart: toner_chart(&history, &supplies, now),
        supplies: supplies.iter().map(supply_view).collect(),
        legend,
        d,
    })
}

pub async fn detail(
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    device_page(&state, &who, path.into_inner(), None).await
}

pub async fn make_printer(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let made = state
        .services
        .devices
        .make_printer(&who.0.principal.user, id, &client)
        .await;
    match made.map_err(Problem::from) {
        Ok(printer) => Ok(redirect(&format!("/admin/printers/{printer}?done=added"))),
        Err(problem) if problem.status.is_server_error() => Err(PageError(problem)),
        Err(problem) => device_page(&state, &who, id, Some(problem.message)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_sort_by_number() {
        let mut ips = ["10.0.0.10", "10.0.0.9", "host"];
        ips.sort_by_key(|ip| ip_key(ip));
        assert_eq!(ips, ["10.0.0.9", "10.0.0.10", "host"]);
    }
}

/// "Brother HL-L5100DN" from manufacturer and model, without saying the maker twice
/// when the model already starts with it.
fn make_and_model(manufacturer: &str, model: &str) -> String {
    let starts = model
        .get(..manufacturer.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(manufacturer));
    if manufacturer.is_empty() || starts {
        model.trim().to_string()
    } else {
        format!("{manufacturer} {model}").trim().to_string()
    }
}

#[cfg(test)]
mod make_model_tests {
    #[test]
    fn the_maker_is_not_repeated() {
        assert_eq!(
            super::make_and_model("Brother", "Brother HL-L5100DN series"),
            "Brother HL-L5100DN series"
        );
        assert_eq!(
            super::make_and_model("HP", "Color LaserJet M480f"),
            "HP Color LaserJet M480f"
        );
        assert_eq!(super::make_and_model("", "Unknown"), "Unknown");
    }
}
