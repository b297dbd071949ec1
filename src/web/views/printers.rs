//! Admin pages for printers (list, add, edit, check, QR labels) and for releases that
//! failed or need someone to look at the printer.

use std::fmt::Write as _;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::CsrfOnly;
use super::{Page, redirect, render, when};
use crate::db::{PrinterRow, ReleaseRow};
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
    /// `{base}/station/{guid}` and `{base}/r/{guid}`.
    pub station_url: String,
    pub phone_url: String,
}

impl PrinterView {
    fn new(p: &PrinterRow, base: &str) -> Self {
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

fn protocol_options(chosen: &str) -> Vec<ProtocolOption> {
    const ALL: [(&str, &str); 4] = [
        ("auto", "Automatic: IPPS, then IPP, then raw"),
        ("ipps", "IPPS only (encrypted)"),
        ("ipp", "IPP (not encrypted)"),
        ("raw", "Raw port 9100 (no status)"),
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

fn form_of(p: &PrinterRow) -> PrinterForm {
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
fn public_base(req: &HttpRequest, state: &AppState) -> String {
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
        "disabled" => {
            "Printer disabled: nobody can release here, and its label is off the labels page."
                .into()
        }
        "enabled" => "Printer enabled.".into(),
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
struct PrinterPage {
    page: Page,
    printer: PrinterView,
    form: PrinterForm,
    protocols: Vec<ProtocolOption>,
}

fn printer_page(
    page: Page,
    row: &PrinterRow,
    form: PrinterForm,
    base: &str,
) -> Result<HttpResponse, PageError> {
    render(&PrinterPage {
        page,
        printer: PrinterView::new(row, base),
        protocols: protocol_options(&form.protocol),
        form,
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
    printer_page(page, &row, form_of(&row), &public_base(&req, &state))
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
            printer_page(page, &row, form, &public_base(&req, &state))
        }
    }
}

pub async fn action(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<(i64, String)>,
    form: web::Form<CsrfOnly>,
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
            printer_page(page, &row, form_of(&row), &public_base(&req, &state))
        }
    }
}

/// One QR label.
pub struct Label {
    pub name: String,
    pub location: String,
    pub phone_url: String,
    /// The QR code as an `<svg>` element: generated here, digits and fixed markup only.
    pub qr: String,
}

#[derive(Template)]
#[template(path = "admin/labels.html")]
struct LabelsPage {
    page: Page,
    labels: Vec<Label>,
}

#[derive(Deserialize)]
pub struct LabelsQuery {
    format: Option<String>,
}

/// QR labels of the enabled printers: a page to print, or one SVG document.
pub async fn labels(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    query: web::Query<LabelsQuery>,
) -> Result<HttpResponse, PageError> {
    let s = &state.services;
    let base = public_base(&req, &state);
    let printers: Vec<PrinterRow> = s
        .printers
        .list()
        .await?
        .into_iter()
        .filter(|p| !p.disabled)
        .collect();
    match query.format.as_deref() {
        None | Some("html") => {
            let labels = printers
                .iter()
                .map(|p| {
                    let phone_url = format!("{base}/r/{}", p.guid);
                    Ok(Label {
                        qr: qr_svg(&phone_url, "class=\"qr\" width=\"200\" height=\"200\"")?,
                        name: p.name.clone(),
                        location: p.location.clone(),
                        phone_url,
                    })
                })
                .collect::<Result<_, Problem>>()?;
            let page = Page::for_user("QR labels", &s.identity, &who.0);
            render(&LabelsPage { page, labels })
        }
        Some("svg") => Ok(HttpResponse::Ok()
            .content_type("image/svg+xml; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "inline; filename=\"printpark-labels.svg\"",
            ))
            .body(labels_svg(&printers, &base)?)),
        Some(_) => Err(PageError(Problem::not_found())),
    }
}

/// All labels on A4-wide sheets (user units are millimetres): two columns, three rows
/// per 297 mm, dashed cut lines.
fn labels_svg(printers: &[PrinterRow], base: &str) -> Result<String, Problem> {
    const W: f64 = 105.0;
    const H: f64 = 99.0;
    const QR: f64 = 56.0;
    let rows = printers.len().div_ceil(2).max(1);
    let height = rows as f64 * H;
    let mut svg = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"210mm\" height=\"{height}mm\" viewBox=\"0 0 210 {height}\" font-family=\"Helvetica, Arial, sans-serif\" text-anchor=\"middle\">\n<rect width=\"210\" height=\"{height}\" fill=\"#fff\"/>\n"
    );
    if printers.is_empty() {
        svg.push_str("<text x=\"105\" y=\"50\" font-size=\"6\">No enabled printers.</text>\n");
    }
    for (i, p) in printers.iter().enumerate() {
        let (x, y) = ((i % 2) as f64 * W, (i / 2) as f64 * H);
        let (cx, url) = (x + W / 2.0, format!("{base}/r/{}", p.guid));
        let qr = qr_svg(
            &url,
            &format!(
                "x=\"{}\" y=\"{}\" width=\"{QR}\" height=\"{QR}\"",
                cx - QR / 2.0,
                y + 5.0
            ),
        )?;
        let _ = write!(
            svg,
            "<g><rect x=\"{x}\" y=\"{y}\" width=\"{W}\" height=\"{H}\" fill=\"none\" stroke=\"#999\" stroke-width=\"0.2\" stroke-dasharray=\"2 2\"/>\n{qr}\n\
             <text x=\"{cx}\" y=\"{}\" font-size=\"7\" font-weight=\"bold\">{}</text>\n\
             <text x=\"{cx}\" y=\"{}\" font-size=\"4.5\">{}</text>\n\
             <text x=\"{cx}\" y=\"{}\" font-size=\"3.6\">Scan with your phone camera</text>\n\
             <text x=\"{cx}\" y=\"{}\" font-size=\"3.6\">to print your documents here</text>\n\
             <text x=\"{cx}\" y=\"{}\" font-size=\"2.6\" font-family=\"monospace\" fill=\"#555\">{}</text></g>\n",
            y + 70.0,
            xml_text(&p.name, 30),
            y + 77.0,
            xml_text(&p.location, 45),
            y + 84.0,
            y + 89.0,
            y + 95.0,
            xml_text(&url, 70),
        );
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// The QR code of `text` as an `<svg>` element (quiet zone included, one user unit per
/// module in its viewBox), with the given position/size attributes.
fn qr_svg(text: &str, attributes: &str) -> Result<String, Problem> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "qr",
            format!("QR code: {e}"),
        )
    })?;
    let n = code.width();
    let colors = code.to_colors();
    let mut path = String::new();
    for (row, line) in colors.chunks(n).enumerate() {
        let mut col = 0;
        while col < n {
            if line[col] == qrcode::Color::Dark {
                let run = line[col..]
                    .iter()
                    .take_while(|c| **c == qrcode::Color::Dark)
                    .count();
                let _ = write!(path, "M{} {}h{run}v1h-{run}z", col + 4, row + 4);
                col += run;
            } else {
                col += 1;
            }
        }
    }
    let side = n + 8;
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" {attributes} viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\" aria-hidden=\"true\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

/// Text for an SVG document: escaped, without characters XML forbids, shortened.
fn xml_text(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().filter(|c| !c.is_control()).enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// A release that failed or needs attention, ready to lay out.
pub struct ReleaseLine {
    pub id: i64,
    pub at: String,
    pub owner: String,
    pub job_name: String,
    pub printer: String,
    pub state: &'static str,
    pub needs_attention: bool,
    pub reason: String,
    pub attempts: i64,
    pub protocol: String,
}

impl From<ReleaseRow> for ReleaseLine {
    fn from(r: ReleaseRow) -> Self {
        let needs_attention = r.state == "needs-attention";
        Self {
            id: r.id,
            at: when(r.finished_at.unwrap_or(r.updated_at)),
            owner: r.owner,
            job_name: r.job_name,
            printer: r.printer_name,
            state: if needs_attention {
                "Needs attention"
            } else {
                "Failed"
            },
            needs_attention,
            reason: r.reason,
            attempts: r.attempts,
            protocol: if r.protocol.is_empty() {
                "—".into()
            } else {
                r.protocol
            },
        }
    }
}

#[derive(Template)]
#[template(path = "admin/releases.html")]
struct ReleasesPage {
    page: Page,
    releases: Vec<ReleaseLine>,
}

async fn releases_page(
    state: &AppState,
    who: &Admin,
    page: Page,
) -> Result<HttpResponse, PageError> {
    let rows = state
        .services
        .release
        .problems(&who.0.principal.user)
        .await?;
    render(&ReleasesPage {
        page,
        releases: rows.into_iter().map(ReleaseLine::from).collect(),
    })
}

pub async fn releases(state: web::Data<AppState>, who: Admin) -> Result<HttpResponse, PageError> {
    let page = Page::for_user("Releases to look at", &state.services.identity, &who.0);
    releases_page(&state, &who, page).await
}

pub async fn release_action(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<(i64, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let (id, action) = path.into_inner();
    let s = &state.services;
    let (admin, client) = (&who.0.principal.user, client_info(&req));
    let result = match action.as_str() {
        "retry" => s
            .release
            .retry(admin, id, &client)
            .await
            .map(|new| format!("Sent again (release {new}).")),
        "printed" => s
            .release
            .confirm_printed(admin, id, &client)
            .await
            .map(|()| "Marked as printed; the document was removed from the server.".into()),
        _ => return Err(PageError(Problem::not_found())),
    };
    let page = Page::for_user("Releases to look at", &s.identity, &who.0)
        .with_outcome(result.map_err(Problem::from))?;
    releases_page(&state, &who, page).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_text_is_escaped_and_shortened() {
        assert_eq!(
            xml_text("A&B <x> \"q\"\u{7}", 50),
            "A&amp;B &lt;x&gt; &quot;q&quot;"
        );
        assert_eq!(xml_text("abcdef", 3), "abc…");
    }

    #[test]
    fn qr_codes_are_one_svg_element_of_digits_and_fixed_markup() {
        let svg = qr_svg("https://print.example/r/0b7c", "width=\"9\"").unwrap();
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(!svg.contains("print.example"));
    }
}
