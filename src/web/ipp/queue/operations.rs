//! The secure queue's operations (RFC 8011, PWG 5100.12) and their dispatch. Every
//! job is held for release: `job-state` pending-held, `job-hold-until` indefinite.

use tokio::io::AsyncRead;

use super::attributes::{job_attributes, select_job};
use super::template::{compression, submission, validate_job};
use crate::identity::{ClientInfo, User};
use crate::ipp::printer::{self, QueueDescription};
use crate::ipp::reply::{check_request, response};
use crate::ipp::wire::{Group, Message, Value, group};
use crate::ipp::{op, status};
use crate::jobs::{HeldJob, JobState, Jobs};
use crate::web::ipp::status::job_error;

/// Everything an operation may use.
pub struct Context<'a> {
    pub jobs: &'a Jobs,
    pub queue: QueueDescription,
    pub client: ClientInfo,
    /// The authenticated user (`requesting-user-name` is never trusted).
    pub user: Option<User>,
    /// `server.public_url`: its host, as well as the one the request came to
    /// (`queue.uri`), may be named by `printer-uri`.
    pub public_url: Option<String>,
    /// Finished jobs that ended after this time (Unix seconds) are the queue's job
    /// history (`queue.history_minutes` before now); older ones are not shown.
    pub history_since: i64,
}

impl Context<'_> {
    /// Whether IPP shows this job: unfinished, or finished within the history period.
    fn shows(&self, job: &HeldJob) -> bool {
        !job.state.is_final() || job.finished_at.unwrap_or(0) >= self.history_since
    }
}

/// Runs one request. `document` is what follows the attributes (Print-Job, Send-Document).
pub async fn handle<R: AsyncRead + Unpin>(
    ctx: &Context<'_>,
    request: &Message,
    document: &mut R,
) -> Message {
    let own = [
        ctx.queue.uri.as_str(),
        ctx.public_url.as_deref().unwrap_or(""),
    ];
    if let Err((code, message)) = check_request(request, &own) {
        return response(request, code, &message);
    }
    let result = match request.code {
        op::GET_PRINTER_ATTRIBUTES => Ok(get_printer_attributes(ctx, request)),
        op::VALIDATE_JOB => validate_job(request).map(|()| response(request, status::OK, "")),
        op::PRINT_JOB => print_job(ctx, request, document).await,
        op::CREATE_JOB => create_job(ctx, request).await,
        op::SEND_DOCUMENT => send_document(ctx, request, document).await,
        op::CLOSE_JOB => close_job(ctx, request).await,
        op::CANCEL_JOB => cancel_job(ctx, request).await,
        op::CANCEL_MY_JOBS => cancel_my_jobs(ctx, request).await,
        op::GET_JOB_ATTRIBUTES => with_job(ctx, request)
            .await
            .map(|job| job_response(ctx, request, &job, status::OK)),
        op::GET_JOBS => get_jobs(ctx, request).await,
        op::IDENTIFY_PRINTER => identify_printer(ctx, request).await,
        other => Err((
            status::OPERATION_NOT_SUPPORTED,
            format!("operation 0x{other:04x} is not supported"),
        )),
    };
    match result {
        Ok(message) => message,
        Err((code, message)) => response(request, code, &message),
    }
}

type OpResult = Result<Message, (u16, String)>;

fn get_printer_attributes(ctx: &Context<'_>, request: &Message) -> Message {
    let requested = request
        .operation_attr("requested-attributes")
        .map(|a| a.values.as_slice());
    let mut message = response(request, status::OK, "");
    let mut printer = Group::new(group::PRINTER);
    printer.attributes = printer::select(printer::all_attributes(&ctx.queue), requested);
    message.groups.push(printer);
    message
}

fn user<'c>(ctx: &'c Context<'_>) -> Result<&'c User, (u16, String)> {
    ctx.user
        .as_ref()
        .ok_or((status::NOT_AUTHENTICATED, "sign in first".into()))
}

/// The name the queue's jobs show as their owner's: the signed-in user's.
fn owner_name<'c>(ctx: &'c Context<'_>) -> &'c str {
    ctx.user.as_ref().map(|u| u.username.as_str()).unwrap_or("")
}

fn job_response(ctx: &Context<'_>, request: &Message, job: &HeldJob, code: u16) -> Message {
    super::attributes::job_response(&ctx.queue, owner_name(ctx), request, job, code)
}

async fn print_job<R: AsyncRead + Unpin>(
    ctx: &Context<'_>,
    request: &Message,
    document: &mut R,
) -> OpResult {
    let owner = user(ctx)?;
    let submission = submission(request)?;
    let job = ctx
        .jobs
        .park(owner, &submission, document, &ctx.client)
        .await
        .map_err(job_error)?;
    Ok(job_response(ctx, request, &job, status::OK))
}

async fn create_job(ctx: &Context<'_>, request: &Message) -> OpResult {
    let owner = user(ctx)?;
    let job = ctx
        .jobs
        .create_incoming(owner, &submission(request)?, &ctx.client)
        .await
        .map_err(job_error)?;
    Ok(job_response(ctx, request, &job, status::OK))
}

async fn send_document<R: AsyncRead + Unpin>(
    ctx: &Context<'_>,
    request: &Message,
    document: &mut R,
) -> OpResult {
    let owner = user(ctx)?;
    let job = with_job(ctx, request).await?;
    validate_job(request)?;
    let Some(last) = request
        .operation_attr("last-document")
        .and_then(|a| a.first())
        .and_then(Value::as_bool)
    else {
        return Err((status::BAD_REQUEST, "last-document is required".into()));
    };
    // A Send-Document with no data and last-document=true only closes the job.
    let mut first_byte = [0u8; 1];
    let n = tokio::io::AsyncReadExt::read(document, &mut first_byte)
        .await
        .map_err(|e| {
            (
                status::BAD_REQUEST,
                format!("the document could not be read: {e}"),
            )
        })?;
    let empty = n == 0;
    if job.state != JobState::Incoming {
        if empty && last {
            return Ok(job_response(ctx, request, &job, status::OK));
        }
        return Err((
            status::NOT_POSSIBLE,
            "the job is complete: it takes no more documents".into(),
        ));
    }
    if empty && last && job.documents > 0 {
        let job = ctx.jobs.close(owner, job.id).await.map_err(job_error)?;
        return Ok(job_response(ctx, request, &job, status::OK));
    }
    let mut document = tokio::io::AsyncReadExt::chain(&first_byte[..n], document);
    let job = ctx
        .jobs
        .attach_document(
            owner,
            job.id,
            compression(request)?,
            last,
            &mut document,
            &ctx.client,
        )
        .await
        .map_err(job_error)?;
    Ok(job_response(ctx, request, &job, status::OK))
}

/// Close-Job (PWG 5100.11): no more documents come; the job is held for release.
async fn close_job(ctx: &Context<'_>, request: &Message) -> OpResult {
    let owner = user(ctx)?;
    let job = with_job(ctx, request).await?;
    let job = ctx.jobs.close(owner, job.id).await.map_err(job_error)?;
    Ok(job_response(ctx, request, &job, status::OK))
}

/// The job named by `job-id` (with `printer-uri`) or `job-uri`, if it is the caller's.
async fn with_job(ctx: &Context<'_>, request: &Message) -> Result<HeldJob, (u16, String)> {
    let owner = user(ctx)?;
    let id = match (
        request.operation_attr("job-id").and_then(|a| a.first()),
        request.operation_str("job-uri"),
    ) {
        (Some(Value::Integer(id)), _) => i64::from(*id),
        (Some(_), _) => return Err((status::BAD_REQUEST, "job-id has the wrong syntax".into())),
        (None, Some(uri)) => uri
            .rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or((status::NOT_FOUND, "no such job".into()))?,
        (None, None) => return Err((status::BAD_REQUEST, "job-id or job-uri is required".into())),
    };
    let job = ctx.jobs.job_of(owner, id).await.map_err(job_error)?;
    // A job that ended before the history period is gone as far as IPP is concerned.
    if !ctx.shows(&job) {
        return Err((status::NOT_FOUND, "no such job".into()));
    }
    Ok(job)
}

/// The secure queue is not a device: there is nothing to flash or show. The request
/// is accepted (IPP Everywhere requires the operation) and recorded for the admin.
async fn identify_printer(ctx: &Context<'_>, request: &Message) -> OpResult {
    let who = user(ctx)?;
    ctx.jobs
        .note_identify_request(who, &ctx.client)
        .await
        .map_err(job_error)?;
    Ok(response(
        request,
        status::OK,
        "This queue is virtual: identify the printer you release at",
    ))
}

async fn cancel_job(ctx: &Context<'_>, request: &Message) -> OpResult {
    let owner = user(ctx)?;
    let job = with_job(ctx, request).await?;
    if !matches!(
        job.state,
        JobState::Held | JobState::Incoming | JobState::NeedsAttention
    ) {
        return Err((
            status::NOT_POSSIBLE,
            "the job is already finished or being printed".into(),
        ));
    }
    ctx.jobs
        .delete(owner, job.id, &ctx.client)
        .await
        .map_err(job_error)?;
    Ok(response(request, status::OK, ""))
}

async fn cancel_my_jobs(ctx: &Context<'_>, request: &Message) -> OpResult {
    let owner = user(ctx)?;
    for job in ctx.jobs.active_jobs_of(owner).await.map_err(job_error)? {
        // A job on its way to a printer is past cancelling from here.
        if job.state == JobState::Releasing {
            continue;
        }
        ctx.jobs
            .delete(owner, job.id, &ctx.client)
            .await
            .map_err(job_error)?;
    }
    Ok(response(request, status::OK, ""))
}

async fn get_jobs(ctx: &Context<'_>, request: &Message) -> OpResult {
    let owner = user(ctx)?;
    let which = request
        .operation_str("which-jobs")
        .unwrap_or("not-completed");
    // Finished jobs are the job history: those that ended within the history period.
    let jobs = match which {
        "not-completed" => ctx.jobs.active_jobs_of(owner).await,
        "completed" => ctx.jobs.finished_jobs_of(owner).await,
        "all" => ctx.jobs.all_jobs_of(owner).await,
        other => {
            return Err((
                status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                format!("which-jobs {other} is not supported"),
            ));
        }
    }
    .map_err(job_error)?;
    let jobs: Vec<HeldJob> = jobs.into_iter().filter(|j| ctx.shows(j)).collect();
    let limit = request
        .operation_int("limit")
        .filter(|n| *n > 0)
        .map(|n| n as usize)
        .unwrap_or(usize::MAX);
    let requested = request
        .operation_attr("requested-attributes")
        .map(|a| a.values.as_slice());
    let default = [Value::keyword("job-id"), Value::keyword("job-uri")];
    let mut message = response(request, status::OK, "");
    for job in jobs.iter().take(limit) {
        let mut group = Group::new(group::JOB);
        group.attributes = select_job(
            job_attributes(&ctx.queue, owner_name(ctx), job),
            Some(requested.unwrap_or(&default)),
        );
        message.groups.push(group);
    }
    Ok(message)
}
