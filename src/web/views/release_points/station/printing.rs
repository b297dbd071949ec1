//! The station's printing steps: print everything held, or print (with changes) or
//! delete what was ticked on the review list.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{View, cookie_path, person, show, signin_error};
use crate::db::PrinterRow;
use crate::identity::{ClientInfo, User};
use crate::release::{JobChoice, ReleaseError, ReleaseVia};
use crate::web::AppState;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AnonymousForm, CsrfOnly};
use crate::web::flash::Flash;
use crate::web::views::redirect;
use crate::web::views::release_points::Fields;

/// The sign-in screen when a release step finds nobody signed in any more.
async fn signed_out(
    req: &HttpRequest,
    state: &AppState,
    printer: &PrinterRow,
) -> Result<HttpResponse, PageError> {
    let view = signin_error(
        printer,
        "You were signed out after a while without a touch; sign in again.".into(),
        String::new(),
    );
    show(req, state, view).await
}

/// After a release: the printing view, or the page again with why not.
async fn released(
    req: &HttpRequest,
    state: &AppState,
    printer: &PrinterRow,
    user: &User,
    mode: &'static str,
    result: Result<Vec<i64>, ReleaseError>,
) -> Result<HttpResponse, PageError> {
    match result {
        Ok(_) => Ok(redirect(&format!(
            "{}?view=printing",
            cookie_path(&printer.guid)
        ))),
        Err(e) => {
            let problem = Problem::from(e);
            if problem.status.is_server_error() {
                return Err(PageError(problem));
            }
            let view = View {
                printer,
                mode,
                user: Some(user),
                notice: None,
                error: Some(problem.message),
                login: String::new(),
            };
            show(req, state, view).await
        }
    }
}

/// `POST /station/{guid}/print-all`: every held job, as submitted.
pub async fn print_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    _: AnonymousForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let Some((user, _)) = person(&req, &state).await else {
        return signed_out(&req, &state, &printer).await;
    };
    let result = state
        .services
        .release
        .release_all(&user, &printer.guid, ReleaseVia::Station, &client)
        .await;
    released(&req, &state, &printer, &user, "jobs", result).await
}

/// `POST /station/{guid}/release`: the review form — print the ticked jobs with the
/// changes made (fewer copies, mono, duplex), or delete them (`action=delete`).
pub async fn release(
    req: HttpRequest,
    state: web::Data<AppState>,
    guid: web::Path<String>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<Fields>,
) -> Result<HttpResponse, PageError> {
    let printer = state.services.printers.by_guid(&guid).await?;
    let Some((user, token)) = person(&req, &state).await else {
        return signed_out(&req, &state, &printer).await;
    };
    if form.get("action") == Some("delete") {
        let mut deleted = 0;
        for id in picked(&form) {
            state.services.jobs.delete(&user, id, &client).await?;
            deleted += 1;
        }
        // Post/redirect/get (issue 20): the list says it once; a refresh deletes nothing.
        let here = cookie_path(&printer.guid);
        let notice = match deleted {
            1 => "1 document deleted.".to_owned(),
            n => format!("{n} documents deleted."),
        };
        state.flash.put(&token, &here, Flash::notice(notice));
        return Ok(redirect(&format!("{here}?view=review")));
    }
    let choices: Vec<JobChoice> = picked(&form)
        .into_iter()
        .map(|id| JobChoice {
            job_id: id,
            copies: form
                .get(&format!("copies-{id}"))
                .and_then(|c| c.trim().parse().ok()),
            mono: form.get(&format!("mono-{id}")).is_some(),
            duplex: form.get(&format!("duplex-{id}")).is_some(),
        })
        .collect();
    let result = if choices.is_empty() {
        Err(ReleaseError::NotAllowed(
            "Select at least one document.".into(),
        ))
    } else {
        state
            .services
            .release
            .release(&user, &printer.guid, &choices, ReleaseVia::Station, &client)
            .await
    };
    released(&req, &state, &printer, &user, "review", result).await
}

/// The job ids ticked on the review form.
fn picked(form: &Fields) -> Vec<i64> {
    form.0
        .iter()
        .filter(|(k, _)| k == "pick")
        .filter_map(|(_, v)| v.parse().ok())
        .collect()
}
