//! The user portal: my held jobs.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::session::CsrfOnly;
use super::{Page, redirect, render, size, time_left, when};
use crate::jobs::HeldJob;
use crate::web::AppState;
use crate::web::auth::{SignedIn, check_form, client_info};
use crate::web::error::PageError;

pub struct JobLine {
    pub id: i64,
    pub name: String,
    pub submitted: String,
    pub pages: String,
    pub color: &'static str,
    pub size: String,
    pub expires_in: String,
}

impl From<&HeldJob> for JobLine {
    fn from(job: &HeldJob) -> Self {
        Self {
            id: job.id,
            name: job.name.clone(),
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
        }
    }
}

#[derive(Template)]
#[template(path = "portal/jobs.html")]
struct JobsPage {
    page: Page,
    jobs: Vec<JobLine>,
}

pub async fn my_jobs(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    let jobs = state
        .services
        .jobs
        .held_jobs_of(&who.principal.user)
        .await?;
    let page = Page::for_user("My print jobs", &state.services.identity, &who);
    render(&JobsPage {
        page,
        jobs: jobs.iter().map(JobLine::from).collect(),
    })
}

pub async fn delete_job(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    state
        .services
        .jobs
        .delete(&who.principal.user, path.into_inner(), &client_info(&req))
        .await?;
    Ok(redirect("/portal"))
}
