//! Importing people from a CSV file (`/admin/users/import`): upload → a dry-run
//! preview of every row → "Import" applies exactly that (see `identity::import`).
//! The file's size is checked while it arrives.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::TryStreamExt;

use crate::identity::ClientInfo;
use crate::identity::import::{ImportOutcome, ImportPreview, MAX_FILE_BYTES, MAX_ROWS, RowAction};
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, CsrfOnly, SignedForm, check_session_token};
use crate::web::multipart::{drain, next_part, text_field, upload_form};
use crate::web::views::{Page, render};

#[derive(Template)]
#[template(path = "admin/users_import.html")]
struct ImportPage {
    page: Page,
    preview: Option<ImportPreview>,
    max_rows: usize,
    max_mib: usize,
}

impl ImportPage {
    fn count(&self, action: &str) -> usize {
        let action = match action {
            "create" => RowAction::Create,
            "update" => RowAction::Update,
            "unchanged" => RowAction::Unchanged,
            _ => RowAction::Error,
        };
        self.preview.as_ref().map_or(0, |p| p.count(action))
    }

    fn applicable(&self) -> bool {
        self.count("create") + self.count("update") > 0
    }
}

fn show(page: Page, preview: Option<ImportPreview>) -> Result<HttpResponse, PageError> {
    render(&ImportPage {
        page,
        preview,
        max_rows: MAX_ROWS,
        max_mib: MAX_FILE_BYTES / (1024 * 1024),
    })
}

fn page(state: &AppState, who: &Admin) -> Page {
    Page::for_user("Import people", &state.services.identity, &who.0)
}

/// `GET /admin/users/import`.
pub async fn form(state: web::Data<AppState>, who: Admin) -> Result<HttpResponse, PageError> {
    show(page(&state, &who), None)
}

fn too_large() -> PageError {
    PageError(Problem::new(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "The file is larger than {} MiB: split it.",
            MAX_FILE_BYTES / (1024 * 1024)
        ),
    ))
}

/// `POST /admin/users/import` (multipart: `csrf`, then `file`): the dry run.
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Admin,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let idle =
        std::time::Duration::from_secs(state.services.settings.server.body_idle_timeout_secs);
    let mut form = upload_form(
        req.headers(),
        crate::web::body_timeout::IdleTimeout::new(payload, idle)
            .map_err(actix_web::error::PayloadError::Io),
    )?;
    let mut csrf_ok = false;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(mut field) = next_part(&mut form, idle).await? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "csrf" => {
                check_session_token(&req, &text_field(&mut field).await?)?;
                csrf_ok = true;
            }
            "file" if csrf_ok && file.is_none() => {
                let name = field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename())
                    .unwrap_or_default()
                    .to_owned();
                let mut bytes = Vec::new();
                while let Some(chunk) = field
                    .try_next()
                    .await
                    .map_err(|e| PageError(Problem::bad_request(e.to_string())))?
                {
                    if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some((name, bytes));
            }
            "file" => return Err(PageError(Problem::csrf())),
            _ => drain(&mut field).await?,
        }
    }
    if !csrf_ok {
        return Err(PageError(Problem::csrf()));
    }
    let page = page(&state, &who);
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return show(page.with_error("Choose a CSV file to import."), None);
    };
    match state
        .services
        .identity
        .preview_import(&who.0.principal.user, &name, &bytes)
        .await
    {
        Ok(preview) => show(
            page.with_notice("Dry run: nothing has changed yet. Check each row, then Import."),
            Some(preview),
        ),
        Err(e) => show(page.with_outcome(Err::<String, _>(Problem::from(e)))?, None),
    }
}

/// `POST /admin/users/import/{id}`: applies a previewed import.
pub async fn apply(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let page = page(&state, &who);
    match state
        .services
        .identity
        .apply_import(&who.0.principal.user, path.into_inner(), &client)
        .await
    {
        Ok(ImportOutcome::Applied { created, updated }) => show(
            page.with_notice(format!(
                "Imported: {created} created, {updated} updated."
            )),
            None,
        ),
        Ok(ImportOutcome::Changed(preview)) => show(
            page.with_error(
                "People changed since the preview, so nothing was imported. Here is the plan now: check it and Import again.",
            ),
            Some(preview),
        ),
        Err(e) => show(page.with_outcome(Err::<String, _>(Problem::from(e)))?, None),
    }
}
