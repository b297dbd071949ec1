//! Admin pages for printers: list, add, edit, check, disable, delete, and confirming
//! an address the printer advertised on another host. QR labels are in `labels.rs`,
//! releases to look at in `admin_releases.rs`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Page, redirect, render, when};
use crate::db::PrinterRow;
use crate::release::push::foreign_uris;
use crate::release::registry::format_cost;
use crate::release::{PrinterForm, ReleaseError, printer_state_label};
use crate::web::AppState;
use crate::web::auth::{Admin, check_form, client_info};
use crate::web::error::{PageError, Problem};

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
    pub(super) fn new(p: &PrinterRow, base: &str) -> Self {
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

pub(super) fn protocol_options(chosen: &str) -> Vec<ProtocolOption> {
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

/// The add and edit forms, as posted.
#[derive(Deserialize)]
pub struct PrinterInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    uri: String,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    cost_mono: String,
    #[serde(default)]
    cost_color: String,
}

impl PrinterInput {
    fn into_form(self) -> PrinterForm {
        PrinterForm {
            name: self.name,
            location: self.location,
            uri: self.uri,
            protocol: self.protocol,
            cost_mono: self.cost_mono,
            cost_color: self.cost_color,
        }
    }
}

pub(super) fn form_of(p: &PrinterRow) -> PrinterForm {
    PrinterForm {
        name: p.name.clone(),
        location: p.location.clone(),
        uri: p.uri.clone(),
        protocol: p.protocol.clone(),
        cost_mono: format_cost(p.cost_mono_milli),
        cost_color: format_cost(p.cost_color_milli),
    }
}

/// Where people reach this server: `server.public_url`, else the Host they used.
pub(super) fn public_base(req: &HttpRequest, state: &AppState) -> String {
    match state.services.settings.server.public_url.as_deref() {
        Some(url) if !url.trim_end_matches('/').is_empty() => url.trim_end_matches('/').into(),
        _ => format!("https://{}", req.connection_info().host()),
    }
}

/// `?done=…` after a change: a fixed sentence, so the query cannot put text on the page.
#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn done_notice(done: Option<&str>, printer: Option<&PrinterRow>) -> Option<String> {
    let text = match done? {
        "added" => "Printer added. Print its QR label from the labels page.".into(),
        "saved" => "Changes saved.".into(),
        "checked" => format!(
            "Checked just now: {}.",
            printer.map_or("", printer_state_label)
        ),
        "certificate" => "The printer's current TLS certificate is pinned now.".into(),
        "address" => "The printer's URI is now the address it advertised. Its pinned certificate, if any, was forgotten.".into(),
        "disabled" => {
            "Printer disabled: nobody can release here, and its label is off the labels page."
                .into()
        }
        "enabled" => "Printer enabled.".into(),
        "revoked" => "Output device revoked: its credentials stop working now.".into(),
        "deleted" => "Printer deleted.".into(),
        _ => return None,
    };
    Some(text)
}

/// The page with a refused change's message; a server failure becomes the error page.
fn refused(page: Page, error: ReleaseError) -> Result<Page, PageError> {
    page.with_outcome(Err::<String, _>(Problem::from(error)))
}

fn with_done(page: Page, notice: Option<String>) -> Page {
    match notice {
        Some(n) => page.with_notice(n),
        None => page,
    }
}

#[derive(Template)]
#[template(path = "admin/printers.html")]
struct PrintersPage {
    page: Page,
    printers: Vec<PrinterView>,
    form: PrinterForm,
    protocols: Vec<ProtocolOption>,
}

async fn list_page(
    req: &HttpRequest,
    state: &AppState,
    page: Page,
    form: PrinterForm,
) -> Result<HttpResponse, PageError> {
    let base = public_base(req, state);
    let printers = state.services.printers.list().await?;
    render(&PrintersPage {
        page,
        printers: printers
            .iter()
            .map(|p| PrinterView::new(p, &base))
            .collect(),
        protocols: protocol_options(&form.protocol),
        form,
    })
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let page = Page::for_user("Printers", &state.services.identity, &who.0);
    let page = with_done(page, done_notice(query.done.as_deref(), None));
    list_page(&req, &state, page, PrinterForm::default()).await
}

pub async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    form: web::Form<PrinterInput>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let form = form.into_inner().into_form();
    let s = &state.services;
    match s
        .printers
        .add(&who.0.principal.user, &form, &client_info(&req))
        .await
    {
        Ok(row) => Ok(redirect(&format!("/admin/printers/{}?done=added", row.id))),
        Err(e) => {
            let page = refused(Page::for_user("Printers", &s.identity, &who.0), e)?;
            list_page(&req, &state, page, form).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/printer.html")]
pub(super) struct PrinterPage {
    pub page: Page,
    pub printer: PrinterView,
    pub form: PrinterForm,
    pub protocols: Vec<ProtocolOption>,
    /// Output devices (INFRA printers only), and a new one's credentials shown once.
    pub infra: Option<super::output_devices::InfraSection>,
}

pub(super) async fn printer_page(
    page: Page,
    row: &PrinterRow,
    form: PrinterForm,
    base: &str,
    state: &AppState,
    admin: &crate::identity::User,
) -> Result<HttpResponse, PageError> {
    let infra = super::output_devices::section(state, admin, row, base, None).await?;
    render(&PrinterPage {
        page,
        printer: PrinterView::new(row, base),
        protocols: protocol_options(&form.protocol),
        form,
        infra,
    })
}

pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<i64>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let s = &state.services;
    let row = s.printers.by_id(path.into_inner()).await?;
    let page = Page::for_user(&format!("Printer {}", row.name), &s.identity, &who.0);
    let page = with_done(page, done_notice(query.done.as_deref(), Some(&row)));
    printer_page(
        page,
        &row,
        form_of(&row),
        &public_base(&req, &state),
        &state,
        &who.0.principal.user,
    )
    .await
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<i64>,
    form: web::Form<PrinterInput>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let s = &state.services;
    let row = s.printers.by_id(path.into_inner()).await?;
    let form = form.into_inner().into_form();
    match s
        .printers
        .update(&who.0.principal.user, row.id, &form, &client_info(&req))
        .await
    {
        Ok(()) => Ok(redirect(&format!("/admin/printers/{}?done=saved", row.id))),
        Err(e) => {
            let title = format!("Printer {}", row.name);
            let page = refused(Page::for_user(&title, &s.identity, &who.0), e)?;
            printer_page(
                page,
                &row,
                form,
                &public_base(&req, &state),
                &state,
                &who.0.principal.user,
            )
            .await
        }
    }
}

/// A button form of the printer page; `use-address` also names the address it
/// confirms and the URI the page showed when the admin pressed it.
#[derive(Deserialize)]
pub struct ActionInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    current: String,
}

pub async fn action(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<(i64, String)>,
    form: web::Form<ActionInput>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let (id, action) = path.into_inner();
    let s = &state.services;
    let row = s.printers.by_id(id).await?;
    let (admin, client) = (&who.0.principal.user, client_info(&req));
    let result = match action.as_str() {
        "check" => s.printers.check(&row, false).await.map(|_| "checked"),
        "accept-certificate" if row.tls_pin.is_some() => {
            s.printers.check(&row, true).await.map(|_| "certificate")
        }
        "use-address" => s
            .printers
            .use_advertised_uri(admin, id, &form.current, &form.address, &client)
            .await
            .map(|()| "address"),
        "disable" => s
            .printers
            .set_disabled(admin, id, true, &client)
            .await
            .map(|()| "disabled"),
        "enable" => s
            .printers
            .set_disabled(admin, id, false, &client)
            .await
            .map(|()| "enabled"),
        "delete" => s
            .printers
            .delete(admin, id, &client)
            .await
            .map(|()| "deleted"),
        _ => return Err(PageError(Problem::not_found())),
    };
    match result {
        Ok("deleted") => Ok(redirect("/admin/printers?done=deleted")),
        Ok(done) => Ok(redirect(&format!("/admin/printers/{id}?done={done}"))),
        Err(e) => {
            let title = format!("Printer {}", row.name);
            let page = refused(Page::for_user(&title, &s.identity, &who.0), e)?;
            let row = s.printers.by_id(id).await?;
            printer_page(
                page,
                &row,
                form_of(&row),
                &public_base(&req, &state),
                &state,
                &who.0.principal.user,
            )
            .await
        }
    }
}
