//! Admin: releases that failed or need someone to look at the printer, with Retry
//! and "It printed".

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::db::ReleaseRow;
use crate::identity::ClientInfo;
use crate::release::ReleaseState;
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, CsrfOnly, SignedForm};
use crate::web::flash::Flash;
use crate::web::page::LongName;
use crate::web::views::{Page, render, when};

/// Where Retry and "It printed" answer to (post/redirect/get, issue 20).
const RELEASES_PATH: &str = "/admin/releases";

/// A release that failed or needs attention, ready to lay out.
pub struct ReleaseLine {
    pub id: i64,
    pub at: String,
    pub owner: String,
    pub job_name: LongName,
    pub printer: String,
    pub state: &'static str,
    pub needs_attention: bool,
    pub reason: String,
    pub attempts: i64,
    pub protocol: String,
}

impl From<ReleaseRow> for ReleaseLine {
    fn from(r: ReleaseRow) -> Self {
        let needs_attention = r.state == ReleaseState::NeedsAttention;
        Self {
            id: r.id,
            at: when(r.finished_at.unwrap_or(r.updated_at)),
            owner: r.owner,
            job_name: LongName::new(&r.job_name),
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
    let flash = state.flash.take(&who.0.token, RELEASES_PATH);
    let page = Page::for_user("Releases to look at", &state.services.identity, &who.0)
        .with_flash(flash.as_ref());
    releases_page(&state, &who, page).await
}

pub async fn release_action(
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let (id, action) = path.into_inner();
    let s = &state.services;
    let admin = &who.0.principal.user;
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
    let flash = Flash::outcome(result.map_err(Problem::from))?;
    Ok(state.flash.redirect(&who.0.token, RELEASES_PATH, flash))
}
