//! QR labels for the printers: one label per enabled printer (its QR code opens the
//! phone release page `/r/{guid}`), as a page to print or one SVG sheet.
//!
//! Refused while the public address is unset or a loopback name (issue 20): a label
//! is stuck on a printer for years, and one carrying `https://localhost:8443` (the
//! address an admin's browser used on the server itself) opens on no phone. The agent
//! command, in contrast, is only warned about (see `agents.rs`).

use std::fmt::Write as _;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::public_base;
use crate::db::PrinterRow;
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::views::{Page, render};

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
    /// Why no labels are made now (the public address), with a link to fix it.
    address_warning: Option<String>,
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
    if let Some(warning) = super::address::address_warning(&state) {
        return match query.format.as_deref() {
            None | Some("html") => {
                let page = Page::for_user("QR labels", &s.identity, &who.0);
                let mut response = render(&LabelsPage {
                    page,
                    labels: Vec::new(),
                    address_warning: Some(warning),
                })?;
                *response.status_mut() = StatusCode::CONFLICT;
                Ok(response)
            }
            Some("svg") => Err(PageError(Problem::new(
                StatusCode::CONFLICT,
                "public_address",
                format!("{warning} Set it in Admin → Settings first."),
            ))),
            Some(_) => Err(PageError(Problem::not_found())),
        };
    }
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
            render(&LabelsPage {
                page,
                labels,
                address_warning: None,
            })
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
