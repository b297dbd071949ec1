//! Following a printer's jobs after delivery, by polling Get-Job-Attributes: IPP
//! notifications would need a listener the printer can reach, which an agent behind
//! NAT or a firewall does not have.

use std::time::{Duration, Instant};

use super::ipp::POLL;
use super::{Completion, Sent};
use crate::ipp::client::{Connection, is_success, new_request, status_message};
use crate::ipp::wire::{Attribute, Value};
use crate::ipp::{op, status};

/// A job's state as Get-Job-Attributes gives it.
struct JobState {
    state: i32,
    reasons: Vec<String>,
    message: String,
}

fn state_name(state: i32) -> &'static str {
    match state {
        3 => "pending",
        4 => "pending-held",
        5 => "processing",
        6 => "processing-stopped",
        7 => "canceled",
        8 => "aborted",
        9 => "completed",
        _ => "in an unknown state",
    }
}

impl JobState {
    fn describe(&self) -> String {
        let mut text = state_name(self.state).to_owned();
        if !self.reasons.is_empty() {
            text += &format!(" ({})", self.reasons.join(", "));
        }
        if !self.message.is_empty() {
            text += &format!(": {}", self.message);
        }
        text
    }
}

enum Poll {
    State(JobState),
    NotFound,
    Failed(String),
}

async fn poll(sent: &Sent, job_id: i32) -> Poll {
    let mut request = new_request(op::GET_JOB_ATTRIBUTES, &sent.uri, &sent.user_name);
    let ops = &mut request.groups[0];
    ops.attributes
        .insert(3, Attribute::new("job-id", Value::Integer(job_id)));
    ops.push(Attribute::many(
        "requested-attributes",
        ["job-state", "job-state-reasons", "job-state-message"]
            .map(Value::keyword)
            .to_vec(),
    ));
    let connection =
        match Connection::open(&sent.uri, sent.cert_sha256.as_deref(), &sent.timeouts).await {
            Ok(c) => c,
            Err(e) => return Poll::Failed(e.to_string()),
        };
    let response = match connection.send(&request, None).await {
        Ok(answer) => answer.response,
        Err(e) => return Poll::Failed(e.to_string()),
    };
    if response.code == status::NOT_FOUND {
        return Poll::NotFound;
    }
    if !is_success(response.code) {
        return Poll::Failed(status_message(&response));
    }
    let strings = |name: &str| -> Vec<String> {
        response
            .job_attr(name)
            .map(|a| a.strings().into_iter().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let Some(state) = response.job_int("job-state") else {
        return Poll::Failed("the printer did not say the job's state".into());
    };
    Poll::State(JobState {
        state,
        reasons: strings("job-state-reasons")
            .into_iter()
            .filter(|r| r != "none")
            .collect(),
        message: strings("job-state-message").join(" "),
    })
}

pub(super) async fn follow(sent: &Sent, limit: Duration) -> Completion {
    if sent.job_ids.is_empty() {
        return Completion::Unknown("the printer did not say which job it made".into());
    }
    let deadline = Instant::now() + limit;
    for &job_id in &sent.job_ids {
        let mut last = String::from("no answer yet");
        // Small jobs finish in milliseconds: ask soon, then back off to `POLL`. The
        // printer takes the next release only once this one ended, so a late poll
        // delays every job behind it.
        let mut pause = Duration::from_millis(25);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, poll(sent, job_id)).await {
                Ok(Poll::State(s)) if s.state == 9 => break,
                Ok(Poll::State(s)) if s.state == 7 || s.state == 8 => {
                    return Completion::Failed(format!(
                        "the printer's job {job_id} was {}",
                        s.describe()
                    ));
                }
                Ok(Poll::State(s)) => last = format!("still {}", s.describe()),
                Ok(Poll::NotFound) => {
                    return Completion::Unknown("the printer no longer knows the job".into());
                }
                Ok(Poll::Failed(why)) => last = why,
                Err(_) => {}
            }
            if Instant::now() + pause >= deadline {
                return Completion::Unknown(format!(
                    "no outcome within {limit:?}: the printer's job {job_id} is {last}"
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL);
        }
    }
    Completion::Completed
}
