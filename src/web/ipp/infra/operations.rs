//! The Infrastructure Printer's operations (PWG 5100.18, RFC 3995/3996 ippget) and
//! their dispatch: what an output device sends on `/ipp/system` and on its printer's
//! `/ipp/infra/{guid}`. Authentication happened before (`web/ipp/infra.rs`): every
//! request here comes from one output device, for the printer it serves. The job-id a
//! device sees is the release id (one release = one fetchable job).

use super::context::{Answer, InfraContext, OpResult, integers};
use super::describe::{EVENTS, printer_attributes, system_attributes, xri};
use super::jobs;
use crate::db::{DeviceReportFields, EventRow};
use crate::ipp::reply::{check_request, response};
use crate::ipp::wire::{Attribute, Group, Message, Value, group, tag};
use crate::ipp::{op, status};
use crate::release::pull::LONGEST_WAIT;
use crate::web::ipp::status::infra_error;

/// How long a device should wait before its next Get-Notifications (seconds): 1 after
/// a request we held (`notify-wait`: the hold was the wait; the reference proxy sleeps
/// this long after every answer and reads 0 as 30), and 30 s for clients that poll
/// without waiting.
const GET_INTERVAL_AFTER_WAIT: i32 = 1;
const GET_INTERVAL_POLLING: i32 = 30;

/// Runs one request of an output device.
pub async fn handle(ctx: &InfraContext<'_>, request: &Message) -> Answer {
    let own = [
        ctx.queue.uri.as_str(),
        ctx.system_uri.as_str(),
        ctx.public_url.as_deref().unwrap_or(""),
    ];
    if let Err((code, message)) = check_request(request, &own) {
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
            op::GET_JOBS => jobs::get_jobs(ctx, request).await,
            op::GET_JOB_ATTRIBUTES => jobs::get_job(ctx, request).await,
            op::FETCH_JOB => jobs::fetch_job(ctx, request).await,
            op::ACKNOWLEDGE_JOB => jobs::acknowledge_job(ctx, request).await,
            op::FETCH_DOCUMENT => jobs::fetch_document(ctx, request).await,
            op::ACKNOWLEDGE_DOCUMENT | op::UPDATE_DOCUMENT_STATUS => {
                jobs::job_id(request).map(|_| Answer::plain(response(request, status::OK, "")))
            }
            op::UPDATE_JOB_STATUS => jobs::job_status(ctx, request).await,
            op::UPDATE_ACTIVE_JOBS => jobs::active_jobs(ctx, request).await,
            op::DEREGISTER_OUTPUT_DEVICE => ctx
                .infra
                .deregister(ctx.caller)
                .await
                .map(|()| Answer::plain(response(request, status::OK, "")))
                .map_err(infra_error),
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
        .map_err(infra_error)?;
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
                .strings()
                .into_iter()
                .filter(|e| EVENTS.contains(e))
                .collect(),
            None => vec!["job-fetchable"],
        };
        let id = ctx
            .infra
            .subscribe(ctx.caller, &events)
            .await
            .map_err(infra_error)?;
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
        .map_err(infra_error)?;
    Ok(Answer::plain(response(request, status::OK, "")))
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
        .map_err(infra_error)?;
    let mut message = response(request, status::OK, "");
    message.groups[0].push(Attribute::new(
        "notify-get-interval",
        Value::Integer(if wait.is_some() {
            GET_INTERVAL_AFTER_WAIT
        } else {
            GET_INTERVAL_POLLING
        }),
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
    let strings = |name: &str| attrs.strings(name);
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
            .filter(|r| *r != "none")
            .collect::<Vec<_>>()
            .join(","),
        state_message: strings("printer-state-message").join(" "),
        attributes: summary,
    };
    ctx.infra
        .report(ctx.caller, &report)
        .await
        .map_err(infra_error)?;
    Ok(Answer::plain(response(request, status::OK, "")))
}
