//! How the Infrastructure Printer describes itself to its output device: the
//! queue's IPP Everywhere description with the state the device reported, and what
//! INFRA and ippget need (operations, `printer-xri-supported`, notify-*).

use super::context::{Answer, InfraContext};
use crate::ipp::printer;
use crate::ipp::reply::response;
use crate::ipp::wire::{Attribute, Group, Message, Value, group, tag};
use crate::ipp::{op, status};

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
pub(super) const EVENTS: &[&str] = &[
    "document-config-changed",
    "document-state-changed",
    "job-config-changed",
    "job-fetchable",
    "job-state-changed",
    "printer-config-changed",
    "printer-state-changed",
];

pub(super) fn replace(attributes: &mut Vec<Attribute>, attribute: Attribute) {
    match attributes.iter_mut().find(|a| a.name == attribute.name) {
        Some(slot) => *slot = attribute,
        None => attributes.push(attribute),
    }
}

pub(super) fn keywords(values: &[&str]) -> Vec<Value> {
    values.iter().map(|v| Value::keyword(v)).collect()
}

pub(super) fn xri(ctx: &InfraContext<'_>) -> Attribute {
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
pub(super) fn infra_printer_attributes(ctx: &InfraContext<'_>) -> Vec<Attribute> {
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

pub(super) fn printer_attributes(ctx: &InfraContext<'_>, request: &Message) -> Answer {
    let requested = request
        .operation_attr("requested-attributes")
        .map(|a| a.values.as_slice());
    let mut message = response(request, status::OK, "");
    let mut printer = Group::new(group::PRINTER);
    printer.attributes = printer::select(infra_printer_attributes(ctx), requested);
    message.groups.push(printer);
    Answer::plain(message)
}

pub(super) fn system_attributes(ctx: &InfraContext<'_>, request: &Message) -> Answer {
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
