//! The user portal: my held jobs, and parking documents from the browser. The upload
//! answers with a redirect to the list, which says once what was parked and what was
//! not, in words a person reads (issue 20).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use futures_util::{StreamExt, TryStreamExt};
use tokio_util::io::StreamReader;

use crate::identity::ClientInfo;
use crate::jobs::{ColorMode, Compression, HeldJob, Sides, Submission};
use crate::web::AppState;
use crate::web::assets;
use crate::web::auth::SignedIn;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{CsrfOnly, SignedForm, UserForm, check_session_token};
use crate::web::flash::Flash;
use crate::web::multipart::{drain, next_part, text_field, upload_form};
use crate::web::page::LongName;
use crate::web::views::{Page, redirect, render, size, time_left, when};

/// The list, where the upload answers to.
const PORTAL_PATH: &str = "/portal";

pub struct JobLine {
    pub id: i64,
    pub name: LongName,
    /// How many documents the job has (IPP multi-document jobs).
    pub documents: i64,
    pub copies: i64,
    pub submitted: String,
    pub pages: String,
    pub color: &'static str,
    pub size: String,
    pub expires_in: String,
    /// Why pages or colour are unknown, if they are.
    pub note: String,
}

impl From<&HeldJob> for JobLine {
    fn from(job: &HeldJob) -> Self {
        Self {
            id: job.id,
            name: LongName::new(&job.name),
            documents: job.documents,
            copies: job.copies,
            submitted: when(job.submitted_at),
            pages: job
                .pages
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into()),
            color: match job.color {
                Some(true) => "colour",
                Some(false) => "mono",
                None => "?",
            },
            size: size(job.size_bytes),
            expires_in: time_left(job.expires_at),
            note: job.analysis_note.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "portal/jobs.html")]
struct JobsPage {
    page: Page,
    jobs: Vec<JobLine>,
    /// Releases of the last hour, with their progress.
    releases: Vec<crate::web::views::releasing::ReleaseLine>,
    refresh: bool,
    progress_js: String,
    max_mib: u64,
    max_copies: i64,
    upload_js: String,
    /// Signed in by single sign-on: say IPP clients need an app password (issue 16, oidc).
    sso_note: bool,
}

pub async fn my_jobs(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    let flash = state.flash.take(&who.token, PORTAL_PATH);
    let page =
        Page::for_user("My print jobs", &state.services.identity, &who).with_flash(flash.as_ref());
    show(&state, &who, page).await
}

async fn show(state: &AppState, who: &SignedIn, page: Page) -> Result<HttpResponse, PageError> {
    let jobs = state
        .services
        .jobs
        .held_jobs_of(&who.principal.user)
        .await?;
    let releases: Vec<crate::web::views::releasing::ReleaseLine> = state
        .services
        .release
        .recent_of(&who.principal.user, 3600)
        .await?
        .iter()
        .map(crate::web::views::releasing::ReleaseLine::from)
        .collect();
    render(&JobsPage {
        page,
        jobs: jobs.iter().map(JobLine::from).collect(),
        refresh: crate::web::views::releasing::any_active(&releases),
        releases,
        progress_js: assets::url("progress.js"),
        max_mib: state.services.settings.queue.max_job_mib,
        max_copies: crate::jobs::options::MAX_COPIES,
        upload_js: assets::url("upload.js"),
        sso_note: state.services.sso.signed_in_by_sso(&who.token).await,
    })
}

/// Upload from the portal: the options come first in the form, then the files, each
/// streamed through the same intake as IPP (analysed, sealed, parked).
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    payload: web::Payload,
    client: ClientInfo,
) -> Result<HttpResponse, PageError> {
    // A browser that stops sending mid-file is cut off after the idle time-out; the
    // file it was sending is not parked.
    let idle =
        std::time::Duration::from_secs(state.services.settings.server.body_idle_timeout_secs);
    let mut form = upload_form(
        req.headers(),
        crate::web::body_timeout::IdleTimeout::new(payload, idle)
            .map_err(actix_web::error::PayloadError::Io),
    )?;
    let mut csrf_ok = false;
    let (mut sides, mut color_mode) = (Sides::OneSided, ColorMode::Auto);
    // Copies out of range refuse the upload with the limit (never clamped).
    let mut copies: Result<i64, String> = Ok(1);
    let mut parked = Vec::new();
    let mut failed = Vec::new();
    while let Some(mut field) = next_part(&mut form, idle).await? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "csrf" => {
                let token = text_field(&mut field).await?;
                check_session_token(&req, &token)?;
                csrf_ok = true;
            }
            "copies" => {
                copies = crate::jobs::options::parse_copies(&text_field(&mut field).await?)
                    .map_err(|e| e.to_string());
            }
            "sides" => {
                sides = Sides::parse(&text_field(&mut field).await?).unwrap_or_default();
            }
            "color_mode" => {
                color_mode = ColorMode::parse(&text_field(&mut field).await?).unwrap_or_default();
            }
            "files" => {
                if !csrf_ok {
                    return Err(PageError(Problem::csrf()));
                }
                let filename = field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename())
                    .map(|f| {
                        f.chars()
                            .filter(|c| !c.is_control())
                            .take(255)
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                if filename.is_empty() {
                    // An empty file input still sends one nameless, empty part.
                    drain(&mut field).await?;
                    continue;
                }
                let declared = field
                    .content_type()
                    .map(|m| m.essence_str().to_owned())
                    .unwrap_or_default();
                let copies = match &copies {
                    Ok(n) => *n,
                    Err(why) => {
                        // Said once for the whole upload, below.
                        failed.push(why.clone());
                        drain(&mut field).await?;
                        continue;
                    }
                };
                let submission = Submission {
                    name: &filename,
                    format: &declared,
                    copies,
                    sides,
                    source: "portal",
                    compression: Compression::None,
                    color_mode,
                    accept: Some(crate::jobs::intake::PORTAL_FORMATS),
                    page_ranges: None,
                };
                // Fused: a multipart field must not be polled again once it has ended.
                let mut body = (&mut field).fuse();
                let stream = (&mut body).map_err(|e| std::io::Error::other(e.to_string()));
                let mut reader = StreamReader::new(stream);
                let outcome = state
                    .services
                    .jobs
                    .park(&who.principal.user, &submission, &mut reader, &client)
                    .await;
                drop(reader);
                match outcome {
                    Ok(_) => parked.push(filename),
                    Err(e) => {
                        let said = e.for_file(&filename, &declared);
                        let problem = Problem::from(e);
                        if problem.status.is_server_error() {
                            return Err(PageError(problem));
                        }
                        failed.push(
                            said.unwrap_or_else(|| format!("{filename}: {}", problem.message)),
                        );
                        // Drain the rest of a refused file so the next part can be read.
                        drain(&mut body).await?;
                    }
                }
            }
            _ => {
                drain(&mut field).await?;
            }
        }
    }
    if !csrf_ok {
        return Err(PageError(Problem::csrf()));
    }
    failed.dedup();
    let mut flash = Flash::default();
    if !parked.is_empty() {
        flash.notice = Some(format!(
            "Parked {}: {}. Release at any printer.",
            if parked.len() == 1 {
                "1 document".to_string()
            } else {
                format!("{} documents", parked.len())
            },
            parked.join(", ")
        ));
    }
    if !failed.is_empty() {
        flash.error = Some(format!("Not parked: {}", failed.join(" ")));
    } else if parked.is_empty() {
        flash.error = Some("Choose at least one PDF, JPEG or PNG file.".into());
    }
    Ok(state.flash.redirect(&who.token, PORTAL_PATH, flash))
}

pub async fn delete_job(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, .. }: UserForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    state
        .services
        .jobs
        .delete(&who.principal.user, path.into_inner(), &client)
        .await?;
    Ok(redirect("/portal"))
}

#[derive(Template)]
#[template(path = "portal/releases_partial.html")]
struct ReleasesPartial {
    releases: Vec<crate::web::views::releasing::ReleaseLine>,
    refresh: bool,
}

/// `GET /portal/releases`: the progress section alone, polled by `progress.js`.
pub async fn my_releases(
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, PageError> {
    let releases: Vec<crate::web::views::releasing::ReleaseLine> = state
        .services
        .release
        .recent_of(&who.principal.user, 3600)
        .await?
        .iter()
        .map(crate::web::views::releasing::ReleaseLine::from)
        .collect();
    render(&ReleasesPartial {
        refresh: crate::web::views::releasing::any_active(&releases),
        releases,
    })
}
