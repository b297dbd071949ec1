//! The Infrastructure Printer's operations (PWG 5100.18, RFC 3995/3996 ippget): what
//! an output device sends on `/ipp/system` and on its printer's `/ipp/infra/{guid}`.
//! Authentication happened before (`web/infra.rs`): every request here comes from
//! one output device, for the printer it serves. The job-id a device sees is the
//! release id (one release = one fetchable job).

use tokio::io::AsyncRead;

use super::operations::{check_request, response};
use super::printer::{self, QueueDescription};
use super::wire::{Attribute, Group, Message, Value, group, tag};
use super::{op, status};
use crate::db::{DeviceReportFields, EventRow, ReleaseRow};
use crate::jobs::HeldJob;
use crate::release::infra::{LONGEST_WAIT, job_state};
use crate::release::{DeviceCaller, FetchedJob, Infra, InfraError, ReleaseError};

/// Operations of an infrastructure printer's URI.
pub const PRINTER_OPERATIONS: &[u16] = &[
    op::GET_PRINTER_ATTRIBUTES,
    op::GET_JOBS,
    op::GET_JOB_ATTRIBUTES,
    op::CREATE_PRINTER_SUBSCRIPTIONS,
    op::CANCEL_SUBSCRIPTION,
    op::GET_NOTIFICATIONS,
    op::ACKNOWLEDGE_DOCUMENT,
    op::ACKNOWLEDGE_JOB,
    op::FETCH_DOCUMENT,
    op::FETCH_JOB,
    op::UPDATE_ACTIVE_JOBS,
    op::DEREGISTER_OUTPUT_DEVICE,
    op::UPDATE_DOCUMENT_STATUS,
    op::UPDATE_JOB_STATUS,
    op::UPDATE_OUTPUT_DEVICE_ATTRIBUTES,
];

/// Events a subscription may ask for; only job-fetchable is ever sent today.
const EVENTS: &[&str] = &[
    "document-config-changed",
    "document-state-changed",
    "job-config-changed",
    "job-fetchable",
    "job-state-changed",
    "printer-config-changed",
    "printer-state-changed",
];

/// How often a device should ask for notifications when it does not wait (seconds).
const GET_INTERVAL: i32 = 30;

/// Everything one request may use.
pub struct InfraContext<'a> {
    pub infra: &'a Infra,
    pub caller: &'a DeviceCaller,
    /// The printer's description as the device reached it (its URI is the
    /// printer's `/ipp/infra/{guid}`).
    pub queue: QueueDescription,
    /// `ipps://host:port/ipp/system`
    pub system_uri: String,
    /// The request came to the system URI.
    pub on_system: bool,
}

/// A response, and for Fetch-Document the document that follows it.
pub struct Answer {
    pub message: Message,
    pub document: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// The document is sent gzip-compressed.
    pub gzip: bool,
}

impl Answer {
    fn plain(message: Message) -> Self {
        Self {
            message,
            document: None,
            gzip: false,
        }
    }
}

type OpResult = Result<Answer, (u16, String)>;

fn refused(error: InfraError) -> (u16, String) {
    let message = error.to_string();
    let code = match error {
        InfraError::Unauthenticated => status::NOT_AUTHENTICATED,
        InfraError::NotFetchable(_) => status::NOT_FETCHABLE,
        InfraError::NotFound(_) => status::NOT_FOUND,
        InfraError::NotPossible(_) => status::NOT_POSSIBLE,
        InfraError::BadRequest(_) => status::BAD_REQUEST,
        InfraError::Release(ReleaseError::NotFound) => status::NOT_FOUND,
        InfraError::Release(other) => {
            tracing::error!(error = %other, "an INFRA operation failed");
            return (
                status::INTERNAL_ERROR,
                "the server could not complete the request".into(),
            );
        }
    };
    (code, message)
}

/// Runs one request of an output device.
pub async fn handle(ctx: &InfraContext<'_>, request: &Message) -> Answer {
    if let Err((code, message)) = check_request(request) {
        return Answer::plain(response(request, code, &message));
    }
    let result = if ctx.on_system {
        match request.code {
            op::REGISTER_OUTPUT_DEVICE => register(ctx, request).await,
            op::GET_SYSTEM_ATTRIBUTES => Ok(system_attributes(ctx, request)),
            other => Err((
                status::OPERATION_NOT_SUPPORTED,
                format!("operation 0x{other:04x} is not supported on the system URI"),
            )),
        }
    } else {
        match request.code {
            op::GET_PRINTER_ATTRIBUTES => Ok(printer_attributes(ctx, request)),
            op::CREATE_PRINTER_SUBSCRIPTIONS => subscribe(ctx, request).await,
            op::CANCEL_SUBSCRIPTION => unsubscribe(ctx, request).await,
            op::GET_NOTIFICATIONS => notifications(ctx, request).await,
            op::UPDATE_OUTPUT_DEVICE_ATTRIBUTES => device_attributes(ctx, request).await,
            op::GET_JOBS => get_jobs(ctx, request).await,
            op::GET_JOB_ATTRIBUTES => get_job(ctx, request).await,
            op::FETCH_JOB => fetch_job(ctx, request).await,
            op::ACKNOWLEDGE_JOB => acknowledge_job(ctx, request).await,
            op::FETCH_DOCUMENT => fetch_document(ctx, request).await,
            op::ACKNOWLEDGE_DOCUMENT | op::UPDATE_DOCUMENT_STATUS => {
                job_id(request).map(|_| Answer::plain(response(request, status::OK, "")))
            }
            op::UPDATE_JOB_STATUS => job_status(ctx, request).await,
            op::UPDATE_ACTIVE_JOBS => active_jobs(ctx, request).await,
            op::DEREGISTER_OUTPUT_DEVICE => ctx
                .infra
                .deregister(ctx.caller)
                .await
                .map(|()| Answer::plain(response(request, status::OK, "")))
                .map_err(refused),
            other => Err((
                status::OPERATION_NOT_SUPPORTED,
                format!("operation 0x{other:04x} is not supported"),
            )),
        }
    };
    match result {
        Ok(answer) => answer,
        Err((code, message)) => Answer::plain(response(request, code, &message)),
    }
}

fn replace(attributes: &mut Vec<Attribute>, attribute: Attribute) {
    match attributes.iter_mut().find(|a| a.name == attribute.name) {
        Some(slot) => *slot = attribute,
        None => attributes.push(attribute),
    }
}

fn keywords(values: &[&str]) -> Vec<Value> {
    values.iter().map(|v| Value::keyword(v)).collect()
}

fn xri(ctx: &InfraContext<'_>) -> Attribute {
    Attribute::new(
        "printer-xri-supported",
        Value::Collection(vec![
            Attribute::new("xri-authentication", Value::keyword("basic")),
            Attribute::new("xri-security", Value::keyword("tls")),
            Attribute::new("xri-uri", Value::uri(&ctx.queue.uri)),
        ]),
    )
}

/// The printer as its output device sees it: the queue's description, the state its
/// device last reported, and what INFRA and ippget need.
fn infra_printer_attributes(ctx: &InfraContext<'_>) -> Vec<Attribute> {
    let device = &ctx.caller.device;
    let mut all = printer::all_attributes(&ctx.queue);
    let state = match device.state.as_str() {
        "processing" => 4,
        "stopped" => 5,
        _ => 3,
    };
    let reasons: Vec<&str> = device
        .state_reasons
        .split(',')
        .filter(|r| !r.is_empty())
        .collect();
    let set = [
        Attribute::many(
            "operations-supported",
            PRINTER_OPERATIONS
                .iter()
                .map(|o| Value::Enum(i32::from(*o)))
                .collect(),
        ),
        Attribute::many(
            "ipp-features-supported",
            keywords(&["infrastructure-printer", "ipp-everywhere"]),
        ),
        Attribute::new("printer-state", Value::Enum(state)),
        Attribute::many(
            "printer-state-reasons",
            keywords(if reasons.is_empty() {
                &["none"]
            } else {
                &reasons
            }),
        ),
        Attribute::new("printer-state-message", Value::text(&device.state_message)),
        Attribute::new(
            "printer-make-and-model",
            Value::text(if device.make_model.is_empty() {
                "PrintPark Infrastructure Printer"
            } else {
                &device.make_model
            }),
        ),
        Attribute::many("uri-authentication-supported", keywords(&["basic"])),
        Attribute::many("uri-security-supported", keywords(&["tls"])),
        xri(ctx),
        Attribute::many("notify-events-supported", keywords(EVENTS)),
        Attribute::many("notify-events-default", keywords(&["job-fetchable"])),
        Attribute::many("notify-pull-method-supported", keywords(&["ippget"])),
        Attribute::new("notify-lease-duration-supported", Value::Range(0, 0)),
        Attribute::new("notify-lease-duration-default", Value::Integer(0)),
        Attribute::new("notify-max-events-supported", Value::Integer(100)),
        Attribute::new("ippget-event-life", Value::Integer(24 * 3600)),
        Attribute::many(
            "which-jobs-supported",
            keywords(&["fetchable", "not-completed", "completed", "all"]),
        ),
        Attribute::many("compression-supported", keywords(&["none", "gzip"])),
        Attribute::new(
            "output-device-uuid-supported",
            match &device.device_uuid {
                Some(uuid) => Value::uri(uuid),
                None => Value::Other(tag::NO_VALUE, Vec::new()),
            },
        ),
    ];
    for attribute in set {
        replace(&mut all, attribute);
    }
    all
}

fn printer_attributes(ctx: &InfraContext<'_>, request: &Message) -> Answer {
    let requested = request
        .operation_attr("requested-attributes")
        .map(|a| a.values.as_slice());
    let mut message = response(request, status::OK, "");
    let mut printer = Group::new(group::PRINTER);
    printer.attributes = printer::select(infra_printer_attributes(ctx), requested);
    message.groups.push(printer);
    Answer::plain(message)
}

fn system_attributes(ctx: &InfraContext<'_>, request: &Message) -> Answer {
    let mut message = response(request, status::OK, "");
    let mut system = Group::new(group::SYSTEM);
    system.push(Attribute::new(
        "system-uri-supported",
        Value::uri(&ctx.system_uri),
    ));
    system.push(Attribute::new("system-name", Value::name(&ctx.queue.name)));
    system.push(Attribute::new("system-state", Value::Enum(3)));
    system.push(Attribute::many("system-state-reasons", keywords(&["none"])));
    system.push(Attribute::many(
        "operations-supported",
        [op::GET_SYSTEM_ATTRIBUTES, op::REGISTER_OUTPUT_DEVICE]
            .iter()
            .map(|o| Value::Enum(i32::from(*o)))
            .collect(),
    ));
    message.groups.push(system);
    Answer::plain(message)
}

/// Register-Output-Device: answers with the URI of the printer this device serves.
async fn register(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let uuid = request
        .operation_str("output-device-uuid")
        .filter(|u| u.starts_with("urn:uuid:") && u.len() <= 100)
        .ok_or((
            status::BAD_REQUEST,
            "output-device-uuid (urn:uuid:…) is required".into(),
        ))?;
    ctx.infra
        .register(ctx.caller, uuid)
        .await
        .map_err(refused)?;
    let mut message = response(request, status::OK, "");
    let mut printer = Group::new(group::PRINTER);
    printer.push(xri(ctx));
    printer.push(Attribute::new(
        "printer-uuid",
        Value::uri(&format!("urn:uuid:{}", ctx.queue.uuid)),
    ));
    printer.push(Attribute::new("printer-name", Value::name(&ctx.queue.name)));
    message.groups.push(printer);
    Ok(Answer::plain(message))
}

async fn subscribe(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let subscriptions: Vec<&Group> = request
        .groups
        .iter()
        .filter(|g| g.tag == group::SUBSCRIPTION)
        .collect();
    if subscriptions.is_empty() {
        return Err((
            status::BAD_REQUEST,
            "a subscription attributes group is required".into(),
        ));
    }
    let mut message = response(request, status::OK, "");
    for wanted in subscriptions {
        let mut answer = Group::new(group::SUBSCRIPTION);
        let method = wanted
            .get("notify-pull-method")
            .and_then(|a| a.first())
            .and_then(Value::as_str);
        if method != Some("ippget") {
            answer.push(Attribute::new(
                "notify-status-code",
                Value::Enum(i32::from(status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED)),
            ));
            message.groups.push(answer);
            continue;
        }
        let events: Vec<&str> = match wanted.get("notify-events") {
            Some(a) => a
                .values
                .iter()
                .filter_map(Value::as_str)
                .filter(|e| EVENTS.contains(e))
                .collect(),
            None => vec!["job-fetchable"],
        };
        let id = ctx
            .infra
            .subscribe(ctx.caller, &events)
            .await
            .map_err(refused)?;
        answer.push(Attribute::new(
            "notify-subscription-id",
            Value::Integer(id.min(i64::from(i32::MAX)) as i32),
        ));
        answer.push(Attribute::new("notify-lease-duration", Value::Integer(0)));
        message.groups.push(answer);
    }
    Ok(Answer::plain(message))
}

async fn unsubscribe(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let id = request.operation_int("notify-subscription-id").ok_or((
        status::BAD_REQUEST,
        "notify-subscription-id is required".into(),
    ))?;
    ctx.infra
        .unsubscribe(ctx.caller, i64::from(id))
        .await
        .map_err(refused)?;
    Ok(Answer::plain(response(request, status::OK, "")))
}

fn integers(request: &Message, name: &str) -> Vec<i64> {
    request
        .operation_attr(name)
        .map(|a| {
            a.values
                .iter()
                .filter_map(Value::as_int)
                .map(i64::from)
                .collect()
        })
        .unwrap_or_default()
}

async fn notifications(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let ids = integers(request, "notify-subscription-ids");
    if ids.is_empty() || ids.len() > 50 {
        return Err((
            status::BAD_REQUEST,
            "notify-subscription-ids (1 to 50) is required".into(),
        ));
    }
    let sequences = integers(request, "notify-sequence-numbers");
    let wanted: Vec<(i64, i64)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, sequences.get(i).copied().unwrap_or(1)))
        .collect();
    let wait = request
        .operation_attr("notify-wait")
        .and_then(|a| a.first())
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .then_some(LONGEST_WAIT);
    let events = ctx
        .infra
        .notifications(ctx.caller, &wanted, wait)
        .await
        .map_err(refused)?;
    let mut message = response(request, status::OK, "");
    message.groups[0].push(Attribute::new(
        "notify-get-interval",
        Value::Integer(GET_INTERVAL),
    ));
    message.groups[0].push(Attribute::new(
        "printer-up-time",
        Value::Integer(up_time(ctx)),
    ));
    for event in &events {
        message.groups.push(event_group(ctx, event));
    }
    Ok(Answer::plain(message))
}

fn up_time(ctx: &InfraContext<'_>) -> i32 {
    (ctx.queue.now - ctx.queue.up_since).clamp(1, i64::from(i32::MAX)) as i32
}

fn event_group(ctx: &InfraContext<'_>, event: &EventRow) -> Group {
    let mut g = Group::new(group::EVENT_NOTIFICATION);
    let a = Attribute::new;
    g.push(a(
        "notify-subscription-id",
        Value::Integer(event.subscription_id as i32),
    ));
    g.push(a(
        "notify-sequence-number",
        Value::Integer(event.seq as i32),
    ));
    g.push(a("notify-subscribed-event", Value::keyword(&event.event)));
    g.push(a("notify-printer-uri", Value::uri(&ctx.queue.uri)));
    g.push(a(
        "notify-charset",
        Value::String(tag::CHARSET, "utf-8".into()),
    ));
    g.push(a(
        "notify-natural-language",
        Value::String(tag::LANGUAGE, "en".into()),
    ));
    g.push(a("notify-text", Value::text("A job can be fetched")));
    g.push(a("printer-up-time", Value::Integer(up_time(ctx))));
    if let Some(id) = event.release_id {
        g.push(a("notify-job-id", Value::Integer(id as i32)));
        g.push(a("job-id", Value::Integer(id as i32)));
        g.push(a(
            "job-state",
            Value::Enum(event.job_state.unwrap_or(6) as i32),
        ));
        g.push(a("job-state-reasons", Value::keyword("job-fetchable")));
    }
    g
}

/// Update-Output-Device-Attributes: keeps what the device says about its printer.
async fn device_attributes(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let Some(attrs) = request.group(group::PRINTER) else {
        return Err((
            status::BAD_REQUEST,
            "a printer attributes group is required".into(),
        ));
    };
    let strings = |name: &str| -> Vec<String> {
        attrs
            .get(name)
            .map(|a| {
                a.values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let state = match attrs.get("printer-state").and_then(|a| a.first()) {
        Some(Value::Enum(4)) => "processing",
        Some(Value::Enum(5)) => "stopped",
        Some(Value::Enum(3)) => "idle",
        _ => "unknown",
    };
    let mut summary = String::new();
    for attribute in attrs.attributes.iter().take(200) {
        let values: Vec<String> = attribute
            .values
            .iter()
            .take(20)
            .map(|v| match v {
                Value::String(_, s) => s.chars().take(200).collect(),
                Value::Integer(n) | Value::Enum(n) => n.to_string(),
                Value::Boolean(b) => b.to_string(),
                Value::Range(a, b) => format!("{a}-{b}"),
                Value::Resolution { x, y, .. } => format!("{x}x{y}"),
                Value::Collection(_) => "{…}".into(),
                Value::Other(..) => "…".into(),
            })
            .collect();
        summary.push_str(&format!("{} = {}\n", attribute.name, values.join(", ")));
    }
    let report = DeviceReportFields {
        make_model: strings("printer-make-and-model").join(" "),
        formats: strings("document-format-supported").join(","),
        state: state.into(),
        state_reasons: strings("printer-state-reasons")
            .into_iter()
            .filter(|r| r != "none")
            .collect::<Vec<_>>()
            .join(","),
        state_message: strings("printer-state-message").join(" "),
        attributes: summary,
    };
    ctx.infra
        .report(ctx.caller, &report)
        .await
        .map_err(refused)?;
    Ok(Answer::plain(response(request, status::OK, "")))
}

fn job_id(request: &Message) -> Result<i64, (u16, String)> {
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
fn job_attributes(
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
        a("job-name", Value::name(&release.job_name)),
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
        attributes.push(a("document-format", Value::mime(&job.format)));
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

fn select(all: Vec<Attribute>, request: &Message, default: &[&str]) -> Vec<Attribute> {
    let names: Vec<&str> = match request.operation_attr("requested-attributes") {
        Some(a) => a.values.iter().filter_map(Value::as_str).collect(),
        None => default.to_vec(),
    };
    if names
        .iter()
        .any(|n| matches!(*n, "all" | "job-description" | "job-template"))
    {
        return all;
    }
    all.into_iter()
        .filter(|a| names.contains(&a.name.as_str()))
        .collect()
}

/// Get-Jobs: `which-jobs=fetchable` lists the printer's jobs waiting for a device.
async fn get_jobs(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let which = request
        .operation_str("which-jobs")
        .unwrap_or("not-completed");
    let rows = match which {
        "fetchable" => ctx.infra.fetchable(ctx.caller).await.map_err(refused)?,
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

async fn get_job(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let id = job_id(request)?;
    let fetchable = ctx.infra.fetchable(ctx.caller).await.map_err(refused)?;
    let Some(row) = fetchable.iter().find(|r| r.id == id) else {
        return Err((status::NOT_FOUND, format!("no fetchable job {id}")));
    };
    let mut message = response(request, status::OK, "");
    let mut g = Group::new(group::JOB);
    g.attributes = select(job_attributes(ctx, row, None, false), request, &["all"]);
    message.groups.push(g);
    Ok(Answer::plain(message))
}

async fn fetch_job(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let id = job_id(request)?;
    let FetchedJob { release, job, .. } =
        ctx.infra.fetch_job(ctx.caller, id).await.map_err(refused)?;
    let mut message = response(request, status::OK, "");
    let mut g = Group::new(group::JOB);
    g.attributes = job_attributes(ctx, &release, Some(&job), true);
    message.groups.push(g);
    Ok(Answer::plain(message))
}

async fn acknowledge_job(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
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
            .unwrap_or_else(|| super::client::status_name(code as u16));
        ctx.infra
            .refuse_job(ctx.caller, id, &why)
            .await
            .map_err(refused)?;
    } else {
        // Only the device that fetched the job acknowledges it.
        ctx.infra.fetch_job(ctx.caller, id).await.map_err(refused)?;
    }
    Ok(Answer::plain(response(request, status::OK, "")))
}

async fn fetch_document(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let id = job_id(request)?;
    let number = request.operation_int("document-number").unwrap_or(1);
    if number < 1 {
        return Err((status::BAD_REQUEST, "document-number starts at 1".into()));
    }
    let accepted: Option<Vec<&str>> = request
        .operation_attr("document-format-accepted")
        .map(|a| a.values.iter().filter_map(Value::as_str).collect());
    let gzip = request
        .operation_attr("compression-accepted")
        .is_some_and(|a| a.values.iter().any(|v| v.as_str() == Some("gzip")));
    let (job, reader) = ctx
        .infra
        .open_document(ctx.caller, id, number as u32)
        .await
        .map_err(refused)?;
    if let Some(accepted) = accepted
        && !accepted.is_empty()
        && !accepted
            .iter()
            .any(|f| f.eq_ignore_ascii_case(&job.format) || *f == "application/octet-stream")
    {
        return Err((
            status::DOCUMENT_FORMAT_NOT_SUPPORTED,
            format!(
                "the document is {} and the device accepts only {}; PrintPark does not convert documents",
                job.format,
                accepted.join(", ")
            ),
        ));
    }
    let mut message = response(request, status::OK, "");
    message.groups[0].push(Attribute::new(
        "compression",
        Value::keyword(if gzip { "gzip" } else { "none" }),
    ));
    message.groups[0].push(Attribute::new("document-format", Value::mime(&job.format)));
    message.groups[0].push(Attribute::new("document-number", Value::Integer(number)));
    let mut document = Group::new(group::DOCUMENT);
    document.push(Attribute::new("document-number", Value::Integer(number)));
    document.push(Attribute::new("document-format", Value::mime(&job.format)));
    message.groups.push(document);
    Ok(Answer {
        message,
        document: Some(reader),
        gzip,
    })
}

async fn job_status(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let id = job_id(request)?;
    let state = request
        .job_attr("output-device-job-state")
        .and_then(|a| a.first())
        .and_then(Value::as_int)
        .ok_or((
            status::BAD_REQUEST,
            "output-device-job-state is required".into(),
        ))?;
    let message = request
        .job_attr("output-device-job-state-message")
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("");
    ctx.infra
        .job_status(ctx.caller, id, state, message)
        .await
        .map_err(refused)?;
    Ok(Answer::plain(response(request, status::OK, "")))
}

/// Update-Active-Jobs: answers with the jobs the device lists that are not its own
/// here any more, as canceled (the device should stop them).
async fn active_jobs(ctx: &InfraContext<'_>, request: &Message) -> OpResult {
    let jobs = integers(request, "job-ids");
    let gone = ctx
        .infra
        .active_jobs(ctx.caller, &jobs)
        .await
        .map_err(refused)?;
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
