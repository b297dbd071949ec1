//! Admin pages for printers: list, add, edit, check, disable, delete, and confirming
//! an address the printer advertised on another host. QR labels are in `labels.rs`,
//! releases to look at in `releases.rs`; the printer page itself in `printer_page.rs`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::printer_page::{
    PrinterView, ProtocolOption, form_of, language_options, printer_page, printer_page_with,
    protocol_options,
};
use super::public_base;
use crate::db::PrinterRow;
use crate::identity::ClientInfo;
use crate::release::{PrinterForm, ReleaseError, printer_state_label};
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, SignedForm, csrf_field};
use crate::web::views::{Page, redirect, render};

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
    #[serde(default)]
    language: String,
}

csrf_field!(PrinterInput);

impl PrinterInput {
    fn into_form(self) -> PrinterForm {
        PrinterForm {
            name: self.name,
            location: self.location,
            uri: self.uri,
            protocol: self.protocol,
            cost_mono: self.cost_mono,
            cost_color: self.cost_color,
            language: self.language,
        }
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

/// Issue 20: a printer added (or checked) that did not answer is not a green "done":
/// it is added, but nobody can print there until it answers.
fn unanswered_warning(done: Option<&str>, printer: &PrinterRow) -> Option<String> {
    let silent = printer.protocol != "infra"
        && matches!(printer.state.as_str(), "unreachable" | "unknown" | "");
    match done? {
        "added" if silent => Some(format!(
            "Printer added, but it did not answer at {}: nobody can print there until it does. Check the address and that the printer is on, then press Check now.",
            printer.uri
        )),
        "checked" if silent => Some(format!(
            "The printer did not answer at {}. Check the address and that it is on.",
            printer.uri
        )),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "admin/printers.html")]
struct PrintersPage {
    page: Page,
    printers: Vec<PrinterView>,
    form: PrinterForm,
    protocols: Vec<ProtocolOption>,
    languages: Vec<ProtocolOption>,
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
        languages: language_options(&form.language),
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
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<PrinterInput>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_form();
    let s = &state.services;
    match s.printers.add(&who.0.principal.user, &form, &client).await {
        Ok(row) => Ok(redirect(&format!("/admin/printers/{}?done=added", row.id))),
        Err(e) => {
            let page = refused(Page::for_user("Printers", &s.identity, &who.0), e)?;
            list_page(&req, &state, page, form).await
        }
    }
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
    let page = match unanswered_warning(query.done.as_deref(), &row) {
        Some(warning) => page.with_warning(warning),
        None => with_done(page, done_notice(query.done.as_deref(), Some(&row))),
    };
    // A device enrolled by the POST before the redirect: its secret, shown this once.
    let flash = state.flash.take(&who.0.token, &printer_path(row.id));
    let page = page.with_flash(flash.as_ref());
    printer_page_with(
        page,
        &row,
        form_of(&row),
        &public_base(&req, &state),
        &state,
        &who.0.principal.user,
        flash.and_then(|f| f.secret),
    )
    .await
}

/// A printer's page (where a form about it redirects to).
pub fn printer_path(id: i64) -> String {
    format!("/admin/printers/{id}")
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<PrinterInput>,
) -> Result<HttpResponse, PageError> {
    let s = &state.services;
    let row = s.printers.by_id(path.into_inner()).await?;
    let form = form.into_form();
    match s
        .printers
        .update(&who.0.principal.user, row.id, &form, &client)
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

csrf_field!(ActionInput);

pub async fn action(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<ActionInput>,
) -> Result<HttpResponse, PageError> {
    let (id, action) = path.into_inner();
    let s = &state.services;
    let row = s.printers.by_id(id).await?;
    let admin = &who.0.principal.user;
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
