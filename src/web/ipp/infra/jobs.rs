//! The job side of the Infrastructure Printer: fetchable jobs, Fetch-Job and
//! Acknowledge-Job, Fetch-Document (the document follows the response), and the
//! status a device reports (Update-Job-Status, Update-Active-Jobs).

use super::context::{Answer, InfraContext, OpResult, integers};
use crate::db::ReleaseRow;
use crate::ipp::reply::{response, select_job_attributes};
use crate::ipp::status;
use crate::ipp::wire::{Attribute, Group, Message, Value, group};
use crate::jobs::HeldJob;
use crate::release::pull::job_state;
use crate::release::{FetchedJob, Infra};
use crate::web::ipp::status::infra_error;

pub(super) fn job_id(request: &Message) -> Result<i64, (u16, String)> {
    match request.operation_attr("job-id").and_then(|a| a.first()) {
        Some(Value::Integer(id)) if *id > 0 => Ok(i64::from(*id)),
        Some(_) => Err((status::BAD_REQUEST, "job-id has the wrong syntax".into())),
        None => request
            .operation_str("job-uri")
            .and_then(|u| u.rsplit('/').next())
            .and_then(|s| s.parse().ok())
            .ok_or((status::BAD_REQUEST, "job-id is required".into())),
    }
}

/// A fetchable (or fetched) job's attributes: the release's choices (copies, sides,
/// colour, pages) over the job's own.
pub(super) fn job_attributes(
    ctx: &InfraContext<'_>,
    release: &ReleaseRow,
    job: Option<&HeldJob>,
    fetched: bool,
) -> Vec<Attribute> {
    let a = Attribute::new;
    let (state, reason) = if fetched {
        (job_state::PROCESSING, "job-fetched")
    } else {
        (job_state::PROCESSING_STOPPED, "job-fetchable")
    };
    let id = release.id as i32;
    let mut attributes = vec![
        a("job-id", Value::Integer(id)),
        a("job-uri", Value::uri(&format!("{}/{id}", ctx.queue.uri))),
        a("job-printer-uri", Value::uri(&ctx.queue.uri)),
        a(
            "job-uuid",
            Value::uri(&format!(
                "urn:uuid:{}",
                uuid::Uuid::from_u64_pair(release.job_id as u64, release.id as u64)
            )),
        ),
        // name(MAX): a long file name is shortened for the device.
        a(
            "job-name",
            Value::name(&crate::ipp::names::ipp_name(&release.job_name)),
        ),
        a("job-originating-user-name", Value::name(&release.owner)),
        a("job-state", Value::Enum(state)),
        a("job-state-reasons", Value::keyword(reason)),
        a(
            "copies",
            Value::Integer(release.copies.clamp(1, 999) as i32),
        ),
        a("sides", Value::keyword(&release.sides)),
        a(
            "print-color-mode",
            Value::keyword(if release.color_mode == "auto" {
                "auto"
            } else {
                &release.color_mode
            }),
        ),
        a(
            "time-at-creation",
            Value::Integer((release.created_at - ctx.queue.up_since).max(0) as i32),
        ),
    ];
    if let Some(job) = job {
        // The format the device will get when it fetches without naming formats of its
        // own (from what it reported; a conversion when needed).
        let sent = Infra::plan_for(ctx.caller, release, job, &[])
            .map(|plan| plan.format(&job.format).to_owned())
            .unwrap_or_else(|_| job.format.clone());
        attributes.push(a("document-format", Value::mime(&sent)));
        attributes.push(a("document-format-supplied", Value::mime(&job.format)));
        attributes.push(a(
            "number-of-documents",
            Value::Integer(job.documents.clamp(1, i64::from(i32::MAX)) as i32),
        ));
        attributes.push(a(
            "job-k-octets",
            Value::Integer(((job.size_bytes + 1023) / 1024).min(i64::from(i32::MAX)) as i32),
        ));
        if let Some(pages) = job.pages {
            attributes.push(a(
                "job-impressions",
                Value::Integer(pages.min(i64::from(i32::MAX)) as i32),
            ));
        }
        if let Some(text) = job.page_ranges.as_deref() {
            let ranges = text
                .split(',')
                .filter_map(|r| r.split_once('-'))
                .filter_map(|(a, b)| Some(Value::Range(a.parse().ok()?, b.parse().ok()?)))
                .collect();
            attributes.push(Attribute::many("page-ranges", ranges));
        }
    }
    attributes
}

pub(super) fn select(all: Vec<Attribute>, request: &Message, default: &[&str]) -> Vec<Attribute> {
    let names: Vec<&str> = match request.operation_attr("requested-attributes") {
        Some(a) => a.strings(),
        None => default.to_vec(),
    };
    select_job_attributes(all, &names)
}

/// Get-Jobs: `which-jobs=fetchable` lists the printer's jobs waiting for a device.
pub(super) async fn get_jobs(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let which = request
        .operation_str("which-jobs")
        .unwrap_or("not-completed");
    let rows = match which {
        "fetchable" => ctx.infra.fetchable(ctx.caller).await.map_err(infra_error)?,
        // A device has no other view of the printer's jobs here.
        "not-completed" | "completed" | "all" => Vec::new(),
        other => {
            return Err((
                status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                format!("which-jobs {other} is not supported"),
            ));
        }
    };
    let limit = request
        .operation_int("limit")
        .filter(|n| *n > 0)
        .map_or(usize::MAX, |n| n as usize);
    let mut message = response(request, status::OK, "");
    for row in rows.iter().take(limit) {
        let mut g = Group::new(group::JOB);
        g.attributes = select(
            job_attributes(ctx, row, None, false),
            request,
            &["job-id", "job-uri"],
        );
        message.groups.push(g);
    }
    Ok(Answer::plain(message))
}

pub(super) async fn get_job(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let id = job_id(request)?;
    let fetchable = ctx.infra.fetchable(ctx.caller).await.map_err(infra_error)?;
    let Some(row) = fetchable.iter().find(|r| r.id == id) else {
        return Err((status::NOT_FOUND, format!("no fetchable job {id}")));
    };
    let mut message = response(request, status::OK, "");
    let mut g = Group::new(group::JOB);
    g.attributes = select(job_attributes(ctx, row, None, false), request, &["all"]);
    message.groups.push(g);
    Ok(Answer::plain(message))
}

pub(super) async fn fetch_job(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let id = job_id(request)?;
    let FetchedJob { release, job, .. } = ctx
        .infra
        .fetch_job(ctx.caller, id)
        .await
        .map_err(infra_error)?;
    let mut message = response(request, status::OK, "");
    let mut g = Group::new(group::JOB);
    g.attributes = job_attributes(ctx, &release, Some(&job), true);
    message.groups.push(g);
    Ok(Answer::plain(message))
}

pub(super) async fn acknowledge_job(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let id = job_id(request)?;
    let refusal = request
        .operation_attr("fetch-status-code")
        .and_then(|a| a.first())
        .and_then(Value::as_int)
        .filter(|code| *code >= 0x0400);
    if let Some(code) = refusal {
        let why = request
            .operation_str("fetch-status-message")
            .map(str::to_string)
            .unwrap_or_else(|| crate::ipp::client::status_name(code as u16));
        ctx.infra
            .refuse_job(ctx.caller, id, &why)
            .await
            .map_err(infra_error)?;
    } else {
        // Only the device that fetched the job acknowledges it.
        ctx.infra
            .fetch_job(ctx.caller, id)
            .await
            .map_err(infra_error)?;
    }
    Ok(Answer::plain(response(request, status::OK, "")))
}

pub(super) async fn fetch_document(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let id = job_id(request)?;
    let number = request.operation_int("document-number").unwrap_or(1);
    if number < 1 {
        return Err((status::BAD_REQUEST, "document-number starts at 1".into()));
    }
    let accepted: Vec<&str> = request
        .operation_attr("document-format-accepted")
        .map(Attribute::strings)
        .unwrap_or_default();
    let gzip = request
        .operation_attr("compression-accepted")
        .is_some_and(|a| a.values.iter().any(|v| v.as_str() == Some("gzip")));
    // The document goes in a format the device takes: converted when needed (the
    // answer's document-format says which), gzipped after conversion when asked.
    let opened = ctx
        .infra
        .open_document(ctx.caller, id, number as u32, &accepted)
        .await
        .map_err(infra_error)?;
    let mut message = response(request, status::OK, "");
    message.groups[0].push(Attribute::new(
        "compression",
        Value::keyword(if gzip { "gzip" } else { "none" }),
    ));
    message.groups[0].push(Attribute::new(
        "document-format",
        Value::mime(&opened.format),
    ));
    message.groups[0].push(Attribute::new("document-number", Value::Integer(number)));
    let mut document = Group::new(group::DOCUMENT);
    document.push(Attribute::new("document-number", Value::Integer(number)));
    document.push(Attribute::new(
        "document-format",
        Value::mime(&opened.format),
    ));
    message.groups.push(document);
    Ok(Answer {
        message,
        document: Some(opened.reader),
        gzip,
    })
}

pub(super) async fn job_status(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let id = job_id(request)?;
    let state = request.job_int("output-device-job-state").ok_or((
        status::BAD_REQUEST,
        "output-device-job-state is required".into(),
    ))?;
    let message = request
        .job_str("output-device-job-state-message")
        .unwrap_or("");
    ctx.infra
        .job_status(ctx.caller, id, state, message)
        .await
        .map_err(infra_error)?;
    Ok(Answer::plain(response(request, status::OK, "")))
}

/// Update-Active-Jobs: answers with the jobs the device lists that are not its own
/// here any more, as canceled (the device should stop them).
pub(super) async fn active_jobs(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let jobs = integers(request, "job-ids");
    let gone = ctx
        .infra
        .active_jobs(ctx.caller, &jobs)
        .await
        .map_err(infra_error)?;
    let mut message = response(request, status::OK, "");
    if !gone.is_empty() {
        let mut unsupported = Group::new(group::UNSUPPORTED);
        unsupported.push(Attribute::many(
            "job-ids",
            gone.iter().map(|id| Value::Integer(*id as i32)).collect(),
        ));
        unsupported.push(Attribute::many(
            "output-device-job-states",
            gone.iter()
                .map(|_| Value::Enum(job_state::CANCELED))
                .collect(),
        ));
        message.groups.push(unsupported);
    }
    Ok(Answer::plain(message))
}
