//! Admin: the output devices of a printer whose jobs are pulled (IPP INFRA) — enrol
//! one (its secret is shown once), see what it reported and when, revoke it.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::printers::{
    PrinterPage, PrinterView, form_of, printer_page, protocol_options, public_base,
};
use super::session::CsrfOnly;
use super::{Page, redirect, render, when};
use crate::db::{OutputDeviceRow, PrinterRow};
use crate::identity::User;
use crate::web::AppState;
use crate::web::auth::{Admin, check_form, client_info};
use crate::web::error::{PageError, Problem};

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

pub(super) async fn section(
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

#[derive(Deserialize)]
pub struct EnrolInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// Enrols an output device and shows its credentials once (no redirect: the secret
/// is in this page only).
pub async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<i64>,
    form: web::Form<EnrolInput>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let s = &state.services;
    let admin = &who.0.principal.user;
    let row = s.printers.by_id(path.into_inner()).await?;
    let base = public_base(&req, &state);
    let title = format!("Printer {}", row.name);
    let page = Page::for_user(&title, &s.identity, &who.0);
    match s
        .release
        .infra()
        .add_device(admin, row.id, &form.name, &client_info(&req))
        .await
    {
        Ok(new) => {
            let page = page
                .with_notice("Output device enrolled. Copy its secret now: it is not shown again.");
            let infra = section(&state, admin, &row, &base, Some((new.login, new.secret))).await?;
            let form = form_of(&row);
            render(&PrinterPage {
                page,
                printer: PrinterView::new(&row, &base),
                protocols: protocol_options(&form.protocol),
                form,
                infra,
            })
        }
        Err(e) => {
            let page = page.with_outcome(Err::<String, _>(Problem::from(e)))?;
            printer_page(page, &row, form_of(&row), &base, &state, admin).await
        }
    }
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<(i64, i64)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let (printer_id, device_id) = path.into_inner();
    let infra = state.services.release.infra();
    let admin = &who.0.principal.user;
    let belongs = infra
        .devices_of(admin, printer_id)
        .await
        .map_err(|e| PageError(Problem::from(e)))?
        .iter()
        .any(|d| d.id == device_id);
    if !belongs {
        return Err(PageError(Problem::not_found()));
    }
    infra
        .revoke_device(admin, device_id, &client_info(&req))
        .await
        .map_err(|e| PageError(Problem::from(e)))?;
    Ok(redirect(&format!(
        "/admin/printers/{printer_id}?done=revoked"
    )))
}
