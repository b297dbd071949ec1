//! The secure queue's jobs as IPP sees them: their state in IPP terms, their job
//! attributes, and the job group an answer carries.

use crate::ipp::op;
use crate::ipp::printer::QueueDescription;
use crate::ipp::reply::{response, select_job_attributes};
use crate::ipp::wire::{Attribute, Group, Message, Value, group, tag};
use crate::jobs::{HeldJob, JobState};

/// A response with the job's group: what was asked for on Get-Job-Attributes, the
/// job's identity and state on job creation.
pub(super) fn job_response(
    queue: &QueueDescription,
    owner: &str,
    request: &Message,
    job: &HeldJob,
    code: u16,
) -> Message {
    let mut message = response(request, code, "");
    let mut group = Group::new(group::JOB);
    let attributes = job_attributes(queue, owner, job);
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

pub(super) fn select_job(all: Vec<Attribute>, requested: Option<&[Value]>) -> Vec<Attribute> {
    let names: Vec<&str> = requested.map(Value::strings).unwrap_or_else(|| vec!["all"]);
    select_job_attributes(all, &names)
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
        JobState::Expired => (8, "aborted-by-system", "Expired without being released"),
        JobState::Printed => (9, "job-completed-successfully", "Printed"),
    }
}

/// Everything the queue says about one of `owner`'s jobs.
pub(super) fn job_attributes(
    queue: &QueueDescription,
    owner: &str,
    job: &HeldJob,
) -> Vec<Attribute> {
    let a = Attribute::new;
    let (state, reason, message) = ipp_state(job.state);
    let no_value = || Value::Other(tag::NO_VALUE, Vec::new());
    let mut attributes = vec![
        a("job-id", Value::Integer(job.id as i32)),
        a("job-uri", Value::uri(&format!("{}/{}", queue.uri, job.id))),
        a("job-printer-uri", Value::uri(&queue.uri)),
        // Names parked from the portal can be longer than name(MAX).
        a(
            "job-name",
            Value::name(&crate::ipp::names::ipp_name(&job.name)),
        ),
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
            Value::Integer((job.submitted_at - queue.up_since).max(0) as i32),
        ),
        a("time-at-processing", no_value()),
        match job.finished_at {
            Some(at) if job.state.is_final() => a(
                "time-at-completed",
                Value::Integer((at - queue.up_since).clamp(0, i64::from(i32::MAX)) as i32),
            ),
            _ => a("time-at-completed", no_value()),
        },
        a(
            "job-printer-up-time",
            Value::Integer((queue.now - queue.up_since).max(1) as i32),
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
