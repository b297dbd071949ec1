//! Admin: the output devices of a printer whose jobs are pulled (IPP INFRA) — enrol
//! one (its secret is shown once), see what it reported and when, revoke it.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::printer_page::{form_of, printer_page};
use super::public_base;
use crate::identity::ClientInfo;
use crate::web::AppState;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, CsrfOnly, SignedForm, csrf_field};
use crate::web::flash::Flash;
use crate::web::views::{Page, redirect};

#[derive(Deserialize)]
pub struct EnrolInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

csrf_field!(EnrolInput);

/// Enrols an output device; its credentials are shown once, on the printer's page the
/// answer redirects to (a refresh shows them no more and enrols nothing again).
pub async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<EnrolInput>,
) -> Result<HttpResponse, PageError> {
    let s = &state.services;
    let admin = &who.0.principal.user;
    let row = s.printers.by_id(path.into_inner()).await?;
    match s
        .release
        .infra()
        .add_device(admin, row.id, &form.name, &client)
        .await
    {
        Ok(new) => {
            let flash = Flash {
                notice: Some(
                    "Output device enrolled. Copy its secret now: it is not shown again.".into(),
                ),
                secret: Some((new.login, new.secret)),
                ..Flash::default()
            };
            Ok(state
                .flash
                .redirect(&who.0.token, &super::printers::printer_path(row.id), flash))
        }
        Err(e) => {
            let base = public_base(&req, &state);
            let title = format!("Printer {}", row.name);
            let page = Page::for_user(&title, &s.identity, &who.0);
            let page = page.with_outcome(Err::<String, _>(Problem::from(e)))?;
            printer_page(page, &row, form_of(&row), &base, &state, admin).await
        }
    }
}

pub async fn revoke(
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
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
        .revoke_device(admin, device_id, &client)
        .await
        .map_err(|e| PageError(Problem::from(e)))?;
    Ok(redirect(&format!(
        "/admin/printers/{printer_id}?done=revoked"
    )))
}
