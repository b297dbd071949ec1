//! The secure queue's operations (RFC 8011, PWG 5100.12). Every job is held for
//! release: `job-state` pending-held, `job-hold-until` indefinite.

use tokio::io::AsyncRead;

use super::printer::{self, DOCUMENT_FORMATS, QueueDescription};
use super::wire::{self, Attribute, Group, Message, Value, WireError, group, tag};
use super::{op, status};
use crate::identity::{ClientInfo, User};
use crate::jobs::{ColorMode, Compression, HeldJob, JobError, JobState, Jobs, Sides, Submission};

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
}

/// Operations that need no credentials (capability discovery).
pub fn is_anonymous(code: u16) -> bool {
    code == op::GET_PRINTER_ATTRIBUTES
}

/// A response with the operation group every response starts with.
pub fn response(request: &Message, code: u16, message: &str) -> Message {
    let version = if request.version.0 == 1 || request.version.0 == 2 {
        request.version
    } else {
        (1, 1)
    };
    let mut operation = Group::new(group::OPERATION);
    operation.push(Attribute::new(
        "attributes-charset",
        Value::String(tag::CHARSET, "utf-8".into()),
    ));
    operation.push(Attribute::new(
        "attributes-natural-language",
        Value::String(tag::LANGUAGE, "en".into()),
    ));
    if !message.is_empty() {
        operation.push(Attribute::new("status-message", Value::text(message)));
    }
    Message {
        version,
        code,
        // RFC 8010 §3.1.1: 1 to 2^31-1; an impossible one is answered with 0.
        request_id: if request.request_id <= 0x7fff_ffff {
            request.request_id
        } else {
            0
        },
        groups: vec![operation],
    }
}

/// Checks that hold for every request (RFC 8010, RFC 8011 §4.1.1–4.1.5) before
/// dispatch: the version, request-id, the operation group first with
/// attributes-charset and attributes-natural-language leading it, every attribute
/// (`wire::validate_request`), and a target URI naming one of `own_uris`' hosts.
pub(crate) fn check_request(request: &Message, own_uris: &[&str]) -> Result<(), (u16, String)> {
    if !(request.version.0 == 1 || request.version.0 == 2) {
        return Err((
            status::VERSION_NOT_SUPPORTED,
            format!(
                "IPP version {}.{} is not supported",
                request.version.0, request.version.1
            ),
        ));
    }
    if request.request_id == 0 || request.request_id > 0x7fff_ffff {
        return Err((
            status::BAD_REQUEST,
            "request-id must be 1 to 2147483647".into(),
        ));
    }
    let Some(first) = request.groups.first().filter(|g| g.tag == group::OPERATION) else {
        return Err((
            status::BAD_REQUEST,
            "the operation attributes group must come first".into(),
        ));
    };
    if request
        .groups
        .iter()
        .filter(|g| g.tag == group::OPERATION)
        .count()
        > 1
    {
        return Err((
            status::BAD_REQUEST,
            "more than one operation attributes group".into(),
        ));
    }
    let names: Vec<&str> = first.attributes.iter().map(|a| a.name.as_str()).collect();
    if names.first() != Some(&"attributes-charset")
        || names.get(1) != Some(&"attributes-natural-language")
    {
        return Err((
            status::BAD_REQUEST,
            "attributes-charset and attributes-natural-language must come first".into(),
        ));
    }
    for (attribute, syntax) in [
        (&first.attributes[0], tag::CHARSET),
        (&first.attributes[1], tag::LANGUAGE),
    ] {
        if !matches!(attribute.values.as_slice(), [Value::String(t, _)] if *t == syntax) {
            return Err((
                status::BAD_REQUEST,
                format!("{} must be one value of its syntax", attribute.name),
            ));
        }
    }
    let charset = first.attributes[0]
        .first()
        .and_then(Value::as_str)
        .unwrap_or("");
    if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("us-ascii") {
        return Err((
            status::CHARSET_NOT_SUPPORTED,
            format!(
                "charset {} is not supported",
                charset
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(63)
                    .collect::<String>()
            ),
        ));
    }
    wire::validate_request(request).map_err(|e| match e {
        WireError::Refused { status, message } => (status, message),
        other => (status::BAD_REQUEST, other.to_string()),
    })?;
    let targets: Vec<&Attribute> = ["printer-uri", "job-uri", "system-uri"]
        .iter()
        .filter_map(|name| request.operation_attr(name))
        .collect();
    if targets.is_empty() {
        return Err((
            status::BAD_REQUEST,
            "printer-uri (or job-uri, system-uri) is required".into(),
        ));
    }
    for target in targets {
        let Some(Value::String(t, uri)) = target.first() else {
            return Err((
                status::BAD_REQUEST,
                format!("{} has the wrong syntax", target.name),
            ));
        };
        if *t != tag::URI || target.values.len() != 1 {
            return Err((
                status::BAD_REQUEST,
                format!("{} has the wrong syntax", target.name),
            ));
        }
        check_host(&target.name, uri, own_uris)?;
    }
    Ok(())
}

/// A target URI must name this server: the host the request came to, or the public
/// URL's (ports aside: `ipps://host/` means 631 where the request came to 443).
/// Loopback names stand for each other (`localhost` for 127.0.0.1).
fn check_host(name: &str, uri: &str, own_uris: &[&str]) -> Result<(), (u16, String)> {
    let Some(host) = uri_host(uri) else {
        return Err((status::BAD_REQUEST, format!("{name} names no host")));
    };
    let ours: Vec<String> = own_uris.iter().filter_map(|u| uri_host(u)).collect();
    if ours.iter().any(|own| same_host(own, &host)) {
        return Ok(());
    }
    Err((
        status::BAD_REQUEST,
        format!(
            "{name} names host {host}, not this server ({})",
            ours.first().map_or("unknown", String::as_str)
        ),
    ))
}

/// The host of `scheme://[user@]host[:port]/…`, lower case, without brackets or a
/// trailing dot.
pub(crate) fn uri_host(uri: &str) -> Option<String> {
    let (_, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host_port.split(':').next()?,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

fn same_host(a: &str, b: &str) -> bool {
    let loopback = |h: &str| {
        h == "localhost"
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    a == b || (loopback(a) && loopback(b))
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

/// Template values we can honour; anything else is refused up front.
fn validate_job(request: &Message) -> Result<(), (u16, String)> {
    // MIME types compare without regard to case (RFC 2045 §5.1): CUPS sends
    // `application/vnd.hp-PCL`, others the lower-case spelling.
    if let Some(format) = request.operation_str("document-format")
        && !DOCUMENT_FORMATS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(format))
    {
        return Err((
            status::DOCUMENT_FORMAT_NOT_SUPPORTED,
            format!("document-format {format} is not supported"),
        ));
    }
    compression(request)?;
    if let Some(copies) = request
        .job_attr("copies")
        .and_then(|a| a.first())
        .and_then(Value::as_int)
        && !(1..=999).contains(&copies)
    {
        return Err((
            status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            "copies must be 1 to 999".into(),
        ));
    }
    if let Some(sides) = request
        .job_attr("sides")
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        && Sides::parse(sides).is_none()
    {
        return Err((
            status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            format!("sides {sides} is not supported"),
        ));
    }
    page_ranges(request)?;
    if let Some(name) = request.operation_str("job-name")
        && name.len() > 255
    {
        return Err((
            status::REQUEST_VALUE_TOO_LONG,
            "job-name is longer than 255 octets".into(),
        ));
    }
    Ok(())
}

/// `page-ranges` (RFC 8011 §5.2.7): ascending, non-overlapping ranges from page 1,
/// kept as `first-last` joined by commas; `None` when absent (all pages).
fn page_ranges(request: &Message) -> Result<Option<String>, (u16, String)> {
    let Some(attribute) = request.job_attr("page-ranges") else {
        return Ok(None);
    };
    let refuse = |why: &str| {
        Err((
            status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            format!("page-ranges {why}"),
        ))
    };
    if attribute.values.len() > 100 {
        return refuse("has more than 100 ranges");
    }
    let mut last = 0;
    let mut ranges = Vec::new();
    for value in &attribute.values {
        let Value::Range(first, end) = *value else {
            return refuse("must be rangeOfInteger values");
        };
        if first < 1 || end < first || first <= last {
            return refuse("must be ascending, non-overlapping ranges from page 1");
        }
        last = end;
        ranges.push(format!("{first}-{end}"));
    }
    Ok(Some(ranges.join(",")))
}

fn compression(request: &Message) -> Result<Compression, (u16, String)> {
    match request.operation_str("compression") {
        None => Ok(Compression::None),
        Some(keyword) => Compression::parse(keyword).ok_or_else(|| {
            (
                status::COMPRESSION_NOT_SUPPORTED,
                format!("compression {keyword} is not supported"),
            )
        }),
    }
}

fn user<'c>(ctx: &'c Context<'_>) -> Result<&'c User, (u16, String)> {
    ctx.user
        .as_ref()
        .ok_or((status::NOT_AUTHENTICATED, "sign in first".into()))
}

fn job_error(error: JobError) -> (u16, String) {
    let message = error.to_string();
    let code = match error {
        JobError::NotFound => status::NOT_FOUND,
        JobError::TooLarge(_) => status::REQUEST_ENTITY_TOO_LARGE,
        JobError::TooManyHeld(_) => status::TOO_MANY_JOBS,
        JobError::TooManyPending(_) => status::TOO_MANY_JOBS,
        JobError::OverQuota(_) => status::REQUEST_ENTITY_TOO_LARGE,
        // server-error-too-many-documents (PWG 5100.7).
        JobError::TooManyDocuments(_) => 0x050C,
        // server-error-job-canceled: the client's document stopped arriving.
        JobError::Interrupted(_) => 0x0508,
        JobError::Compression(_) => status::COMPRESSION_ERROR,
        JobError::NotPossible(_) => status::NOT_POSSIBLE,
        JobError::FormatNotAccepted(_) => status::DOCUMENT_FORMAT_NOT_SUPPORTED,
        other => {
            tracing::error!(error = %other, "IPP operation failed");
            return (
                status::INTERNAL_ERROR,
                "the server could not store the job".into(),
            );
        }
    };
    (code, message)
}

/// The job a Print-Job or Create-Job describes, once its template values are checked.
pub(crate) fn submission(request: &Message) -> Result<Submission<'_>, (u16, String)> {
    validate_job(request)?;
    Ok(Submission {
        name: job_name(request),
        format: request
            .operation_str("document-format")
            .unwrap_or("application/octet-stream"),
        copies: request
            .job_attr("copies")
            .and_then(|a| a.first())
            .and_then(Value::as_int)
            .unwrap_or(1)
            .into(),
        sides: request
            .job_attr("sides")
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .and_then(Sides::parse)
            .unwrap_or_default(),
        source: "ipp",
        compression: compression(request)?,
        color_mode: request
            .job_attr("print-color-mode")
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .and_then(ColorMode::parse)
            .unwrap_or_default(),
        accept: None,
        page_ranges: page_ranges(request)?,
    })
}

fn job_name(request: &Message) -> &str {
    request
        .operation_str("job-name")
        .or_else(|| request.operation_str("document-name"))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("Untitled")
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
    ctx.jobs.job_of(owner, id).await.map_err(job_error)
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
            job_attributes(ctx, job),
            Some(requested.unwrap_or(&default)),
        );
        message.groups.push(group);
    }
    Ok(message)
}

fn job_response(ctx: &Context<'_>, request: &Message, job: &HeldJob, code: u16) -> Message {
    let mut message = response(request, code, "");
    let mut group = Group::new(group::JOB);
    let attributes = job_attributes(ctx, job);
    group.attributes = if request.code == op::GET_JOB_ATTRIBUTES {
        select_job(
            attributes,
            request
                .operation_attr("requested-attributes")
                .map(|a| a.values.as_slice()),
        )
    } else {
        // Job creation answers with the job's identity and state (RFC 8011 §4.2.1.2).
        select_job(
            attributes,
            Some(
                &[
                    "job-id",
                    "job-uri",
                    "job-state",
                    "job-state-reasons",
                    "job-state-message",
                ]
                .map(Value::keyword),
            ),
        )
    };
    message.groups.push(group);
    message
}

fn select_job(all: Vec<Attribute>, requested: Option<&[Value]>) -> Vec<Attribute> {
    let names: Vec<&str> = requested
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_else(|| vec!["all"]);
    select_job_attributes(all, &names)
}

/// The job attributes named in `requested-attributes` (groups `all`,
/// `job-description`, `job-status` and `job-template` mean everything here).
pub(crate) fn select_job_attributes(all: Vec<Attribute>, names: &[&str]) -> Vec<Attribute> {
    if names.iter().any(|n| {
        matches!(
            *n,
            "all" | "job-description" | "job-status" | "job-template"
        )
    }) {
        return all;
    }
    all.into_iter()
        .filter(|a| names.contains(&a.name.as_str()))
        .collect()
}

/// (job-state enum, job-state-reasons, message)
fn ipp_state(state: JobState) -> (i32, &'static str, &'static str) {
    match state {
        JobState::Incoming => (3, "job-incoming", "Waiting for the document"),
        JobState::Held => (
            4,
            "job-hold-until-specified",
            "Held until you release it at a printer",
        ),
        JobState::Releasing => (5, "job-printing", "Being sent to the printer you chose"),
        JobState::NeedsAttention => (
            6,
            "job-hold-until-specified",
            "Its delivery was interrupted; an administrator will check it",
        ),
        JobState::Deleted => (7, "job-canceled-by-user", "Deleted"),
        JobState::Expired => (7, "aborted-by-system", "Expired without being released"),
        JobState::Printed => (9, "job-completed-successfully", "Printed"),
    }
}

fn job_attributes(ctx: &Context<'_>, job: &HeldJob) -> Vec<Attribute> {
    let a = Attribute::new;
    let (state, reason, message) = ipp_state(job.state);
    let owner = ctx.user.as_ref().map(|u| u.username.as_str()).unwrap_or("");
    let no_value = || Value::Other(tag::NO_VALUE, Vec::new());
    let mut attributes = vec![
        a("job-id", Value::Integer(job.id as i32)),
        a(
            "job-uri",
            Value::uri(&format!("{}/{}", ctx.queue.uri, job.id)),
        ),
        a("job-printer-uri", Value::uri(&ctx.queue.uri)),
        a("job-name", Value::name(&job.name)),
        a("job-originating-user-name", Value::name(owner)),
        a("job-state", Value::Enum(state)),
        a("job-state-reasons", Value::keyword(reason)),
        a("job-state-message", Value::text(message)),
        a("job-hold-until", Value::keyword("indefinite")),
        a(
            "job-k-octets",
            Value::Integer(((job.size_bytes + 1023) / 1024).min(i32::MAX as i64) as i32),
        ),
        match job.pages {
            Some(p) => a(
                "job-impressions",
                Value::Integer(p.min(i32::MAX as i64) as i32),
            ),
            None => a("job-impressions", no_value()),
        },
        // Nothing of a parked job has printed yet; the printer reports progress at
        // release (CUPS's backend asks for these).
        a(
            "job-impressions-completed",
            Value::Integer(match (job.state, job.pages) {
                (JobState::Printed, Some(p)) => (p * job.copies).min(i32::MAX as i64) as i32,
                _ => 0,
            }),
        ),
        a("job-media-sheets-completed", Value::Integer(0)),
        a("copies", Value::Integer(job.copies.min(999) as i32)),
        a("sides", Value::keyword(job.sides.as_str())),
        a("print-color-mode", Value::keyword(job.color_mode.as_str())),
        a("document-format", Value::mime(&job.format)),
        a(
            "number-of-documents",
            Value::Integer(job.documents.min(i32::MAX as i64) as i32),
        ),
        a(
            "time-at-creation",
            Value::Integer((job.submitted_at - ctx.queue.up_since).max(0) as i32),
        ),
        a("time-at-processing", no_value()),
        a("time-at-completed", no_value()),
        a(
            "job-printer-up-time",
            Value::Integer((ctx.queue.now - ctx.queue.up_since).max(1) as i32),
        ),
    ];
    // Only when the owner chose pages (absent = all pages, RFC 8011 §5.2.7).
    if let Some(text) = job.page_ranges.as_deref() {
        let ranges = text
            .split(',')
            .filter_map(|r| r.split_once('-'))
            .filter_map(|(a, b)| Some(Value::Range(a.parse().ok()?, b.parse().ok()?)))
            .collect();
        attributes.push(Attribute {
            name: "page-ranges".into(),
            values: ranges,
        });
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: (&str, &str)) -> Message {
        let mut operation = Group::new(group::OPERATION);
        operation.push(Attribute::new(
            "attributes-charset",
            Value::String(tag::CHARSET, "utf-8".into()),
        ));
        operation.push(Attribute::new(
            "attributes-natural-language",
            Value::String(tag::LANGUAGE, "en".into()),
        ));
        operation.push(Attribute::new(target.0, Value::uri(target.1)));
        Message {
            version: (2, 0),
            code: op::GET_PRINTER_ATTRIBUTES,
            request_id: 1,
            groups: vec![operation],
        }
    }

    #[test]
    fn uri_hosts_are_read_without_user_port_brackets_case_or_trailing_dot() {
        for (uri, host) in [
            ("ipps://Print.Example.:631/ipp/print", Some("print.example")),
            ("ipps://[::1]:8631/ipp/print", Some("::1")),
            (
                "ipps://127.0.0.1:8631@evil.example/ipp/print",
                Some("evil.example"),
            ),
            ("ipp://h?x", Some("h")),
            ("https://print.example.org", Some("print.example.org")),
            ("mailto:someone@example.org", None),
            ("ipps:///ipp/print", None),
        ] {
            assert_eq!(uri_host(uri).as_deref(), host, "{uri}");
        }
    }

    #[test]
    fn a_target_uri_must_name_the_host_the_request_came_to_or_the_public_one() {
        let own = [
            "ipps://127.0.0.1:8631/ipp/print",
            "https://print.example.org",
        ];
        for (name, uri, ok) in [
            ("printer-uri", "ipps://127.0.0.1:8631/ipp/print", true),
            ("printer-uri", "ipps://localhost/ipp/print", true),
            ("printer-uri", "ipps://[::1]:8631/ipp/print", true),
            ("printer-uri", "ipps://PRINT.example.org/ipp/print", true),
            ("printer-uri", "ipps://evil.example/ipp/print", false),
            ("printer-uri", "ipps://10.0.0.1:8631/ipp/print", false),
            ("job-uri", "ipps://evil.example/ipp/print/3", false),
            (
                "system-uri",
                "ipps://print.example.org.evil.example/ipp/system",
                false,
            ),
        ] {
            let result = check_request(&request((name, uri)), &own);
            assert_eq!(result.is_ok(), ok, "{name} {uri}: {result:?}");
            if let Err((code, _)) = result {
                assert_eq!(code, status::BAD_REQUEST);
            }
        }
        // Without a public URL, only the host the request came to.
        assert!(
            check_request(
                &request(("printer-uri", "ipps://print.example.org/ipp/print")),
                &["ipps://127.0.0.1:8631/ipp/print", ""]
            )
            .is_err()
        );
    }

    #[test]
    fn refusals_echo_a_possible_request_id_and_the_charset() {
        let mut bad = request(("printer-uri", "ipps://evil.example/"));
        bad.request_id = 0x8000_0001;
        let answer = response(&bad, status::BAD_REQUEST, "no");
        assert_eq!(answer.request_id, 0);
        assert_eq!(
            answer.groups[0].attributes[0].first(),
            Some(&Value::String(tag::CHARSET, "utf-8".into()))
        );
        bad.request_id = 9;
        assert_eq!(response(&bad, status::BAD_REQUEST, "no").request_id, 9);
    }
}
