//! One job through the agent: Fetch-Job, fetch every document into the sealed spool,
//! send it to the printer with the server's own push delivery (IPPS → IPP → raw),
//! converted here into what the printer takes when it does not take the job's format,
//! follow it, and report the outcome. Each step is written to the state file first,
//! so a restart knows whether the printer can hold any of it (invariant 5: a job that
//! may have printed is never sent again; it goes to "needs attention").

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::requests::{Requests, ok};
use super::spool::{Spool, SpooledDocument, SpooledJob};
use super::state::AgentState;
use super::{AgentError, HealthBoard};
use crate::convert::Converter;
use crate::ipp::op;
use crate::ipp::wire::{Attribute, Group, Value, group};
use crate::release::pull::job_state;
use crate::release::push::{self, Completion, PushError, PushJob, PushTarget};

/// How long a printer's job is followed after it took it.
const FOLLOW_LIMIT: Duration = Duration::from_secs(600);
/// A busy printer (one job at a time) is asked again this often, this many times.
const BUSY_RETRY: Duration = Duration::from_secs(2);
const BUSY_ATTEMPTS: u32 = 60;
/// Outcome 0: nothing reached the printer; the job is handed back (held again).
const NOT_PRINTED: i64 = 0;

#[derive(Clone)]
pub struct Deliverer {
    pub state: AgentState,
    pub spool: Arc<Spool>,
    pub board: HealthBoard,
    /// Converts jobs the printer does not take as they are, in worker processes of
    /// this agent's own binary (Ghostscript must be installed on the agent's host).
    pub converter: Converter,
}

/// What became of a job, ready to be reported.
struct Outcome {
    state: i64,
    message: String,
}

impl Deliverer {
    /// Delivers the jobs the poller queues, one at a time (one printer).
    pub async fn work(
        self,
        requests: Arc<Requests>,
        mut jobs: mpsc::UnboundedReceiver<i64>,
        busy: Arc<Mutex<HashSet<i64>>>,
        stopped: watch::Receiver<bool>,
    ) {
        while let Some(job_id) = jobs.recv().await {
            if *stopped.borrow() {
                break;
            }
            self.board.set(&requests.printer.guid, "delivering", None);
            if let Err(e) = self.deliver(&requests, job_id, &stopped).await {
                tracing::warn!(printer = %requests.printer.name, job = job_id, error = %e, "delivery stopped");
            }
            busy.lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&job_id);
            self.board.set(&requests.printer.guid, "ready", None);
        }
    }

    /// After a restart, before registering: a job whose document never reached the
    /// printer is delivered now; one that may have is reported as aborted (needs
    /// attention); finished ones are reported.
    pub async fn finish_leftovers(
        &self,
        requests: &Requests,
        stopped: &watch::Receiver<bool>,
    ) -> Result<(), AgentError> {
        for row in self
            .state
            .deliveries(&requests.printer.device_login)
            .await?
        {
            match row.phase.as_str() {
                "fetched" => {
                    tracing::info!(
                        job = row.job_id,
                        "resuming a job fetched before the restart (the printer has none of it)"
                    );
                    self.deliver(requests, row.job_id, stopped).await?;
                }
                "sending" => {
                    let outcome = Outcome {
                        state: i64::from(job_state::ABORTED),
                        message: "the agent stopped while sending the job to the printer; it may have printed in part".into(),
                    };
                    self.state
                        .record(
                            &row.device_login,
                            row.job_id,
                            "done",
                            outcome.state,
                            &outcome.message,
                        )
                        .await?;
                    self.report(requests, row.job_id, &outcome, stopped).await?;
                }
                _ => {
                    let outcome = Outcome {
                        state: row.outcome,
                        message: row.message,
                    };
                    self.report(requests, row.job_id, &outcome, stopped).await?;
                }
            }
        }
        Ok(())
    }

    async fn deliver(
        &self,
        requests: &Requests,
        job_id: i64,
        stopped: &watch::Receiver<bool>,
    ) -> Result<(), AgentError> {
        let login = &requests.printer.device_login;
        let fetch = requests.job_request(op::FETCH_JOB, job_id);
        let job = match retry(stopped, || requests.call(&fetch)).await {
            Ok(answer) => answer
                .group(group::JOB)
                .cloned()
                .unwrap_or(Group::new(group::JOB)),
            // Fetched by another device of the printer, or gone: not ours.
            Err(AgentError::Ipp { .. }) => return self.state.forget(login, job_id).await,
            Err(e) => return Err(e),
        };
        self.state.record(login, job_id, "fetched", 0, "").await?;
        let acknowledge = requests.job_request(op::ACKNOWLEDGE_JOB, job_id);
        retry(stopped, || requests.call(&acknowledge)).await?;
        let count = job
            .find_int("number-of-documents")
            .filter(|n| *n >= 1)
            .unwrap_or(1);
        let mut documents: Vec<SpooledDocument> = Vec::new();
        for number in 1..=count {
            let fetched = retry(stopped, || self.fetch_document(requests, job_id, number)).await;
            match fetched {
                Ok(document) => documents.push(document),
                Err(e) => {
                    for d in &documents {
                        d.remove().await;
                    }
                    if matches!(e, AgentError::Ipp { .. }) {
                        // The server no longer has it for us (revoked, ended).
                        self.state.forget(login, job_id).await?;
                    }
                    return Err(e);
                }
            }
        }
        self.state.record(login, job_id, "sending", 0, "").await?;
        let outcome = self.send(requests, &job, &documents).await;
        for d in &documents {
            d.remove().await;
        }
        self.state
            .record(login, job_id, "done", outcome.state, &outcome.message)
            .await?;
        self.report(requests, job_id, &outcome, stopped).await
    }

    async fn fetch_document(
        &self,
        requests: &Requests,
        job_id: i64,
        number: i32,
    ) -> Result<SpooledDocument, AgentError> {
        let mut request = requests.job_request(op::FETCH_DOCUMENT, job_id);
        request.groups[0].push(Attribute::new("document-number", Value::Integer(number)));
        let (answer, mut body) = requests
            .channel
            .ipp_with_body(&requests.path, requests.credential(), &request)
            .await?;
        ok(answer)?;
        let document = self.spool.write(&mut body).await?;
        let mut ack = requests.job_request(op::ACKNOWLEDGE_DOCUMENT, job_id);
        ack.groups[0].push(Attribute::new("document-number", Value::Integer(number)));
        requests.call(&ack).await?;
        Ok(document)
    }

    /// Sends the spooled job to the printer and follows it.
    async fn send(
        &self,
        requests: &Requests,
        job: &Group,
        documents: &[SpooledDocument],
    ) -> Outcome {
        let printer = &requests.printer;
        let text = |name: &str| {
            job.get(name)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let int = |name: &str| {
            job.get(name)
                .and_then(|a| a.first())
                .and_then(Value::as_int)
        };
        let push_job = PushJob {
            name: text("job-name").unwrap_or_else(|| "PrintPark job".into()),
            user_name: text("job-originating-user-name").unwrap_or_default(),
            format: text("document-format").unwrap_or_else(|| "application/octet-stream".into()),
            copies: int("copies").unwrap_or(1).max(1) as u32,
            sides: text("sides").unwrap_or_else(|| "one-sided".into()),
            color_mode: text("print-color-mode").unwrap_or_else(|| "auto".into()),
            page_ranges: job
                .get("page-ranges")
                .map(|a| {
                    a.values
                        .iter()
                        .filter_map(|v| match v {
                            Value::Range(a, b) => Some(format!("{a}-{b}")),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|r| !r.is_empty()),
            media: None,
        };
        // An unreadable pin is not "no pin": trusting any certificate then would undo
        // the pinning, so the job is not sent.
        let pin = match self.state.printer_pin(&printer.uri).await {
            Ok(pin) => pin,
            Err(e) => {
                tracing::warn!(printer = %printer.name, error = %e, "reading the printer's pinned certificate failed");
                return Outcome {
                    state: NOT_PRINTED,
                    message: format!("the printer's pinned certificate could not be read: {e}"),
                };
            }
        };
        let mut target = PushTarget {
            uri: printer.uri.clone(),
            tls_pin: pin.clone(),
            language: PushTarget::parse_language(printer.language.as_deref()),
            ..Default::default()
        };
        // What the printer accepts and where it offers IPPS (none for raw printers).
        if !printer.uri.starts_with("socket://")
            && let Ok(report) = crate::ipp::client::get_printer_attributes(
                &printer.uri,
                pin.as_deref(),
                &Default::default(),
            )
            .await
        {
            target.uris_supported = report.uris_supported;
            target.formats = report.formats;
            target.multi_document = report.multi_document;
            target.color_supported = Some(report.color_supported);
        }
        let timeouts = Default::default();
        let mut attempts = 0;
        let link = loop {
            match push::connect(&target, &push_job, &timeouts).await {
                Ok(link) => break link,
                Err(PushError::NotSent {
                    retry_later: true, ..
                }) if attempts < BUSY_ATTEMPTS => {
                    attempts += 1;
                    tokio::time::sleep(BUSY_RETRY).await;
                }
                Err(e) => return not_printed(&e),
            }
        };
        if let (None, Some(seen)) = (&pin, link.cert_sha256()) {
            self.state.pin_on_first_use(&printer.uri, seen).await;
        }
        let mut source = SpooledJob {
            spool: &self.spool,
            documents,
        };
        let sent = match link.send(&push_job, &mut source, &self.converter).await {
            Ok(sent) => sent,
            Err(e @ PushError::Interrupted { .. }) => {
                return Outcome {
                    state: i64::from(job_state::ABORTED),
                    message: e.reason().to_string(),
                };
            }
            Err(e) => return not_printed(&e),
        };
        tracing::info!(printer = %printer.name, protocol = %sent.protocol(), bytes = sent.bytes_sent(), "the printer took the job");
        let split = sent.printer_job_ids().len() > 1;
        match sent.follow(FOLLOW_LIMIT).await {
            Completion::Completed => Outcome {
                state: i64::from(job_state::COMPLETED),
                message: String::new(),
            },
            Completion::Failed(reason) if !split => Outcome {
                state: NOT_PRINTED,
                message: format!("the printer did not print it: {reason}"),
            },
            Completion::Failed(reason) => Outcome {
                state: i64::from(job_state::ABORTED),
                message: format!(
                    "one of its documents was not printed ({reason}); the others may have been"
                ),
            },
            Completion::Unknown(reason) => Outcome {
                state: i64::from(job_state::ABORTED),
                message: format!("sent in full, then {reason}"),
            },
        }
    }

    /// Tells the server; retried until it answers (the outcome is kept in the state
    /// file meanwhile). A job the server no longer counts as ours is forgotten.
    async fn report(
        &self,
        requests: &Requests,
        job_id: i64,
        outcome: &Outcome,
        stopped: &watch::Receiver<bool>,
    ) -> Result<(), AgentError> {
        let request = if outcome.state == NOT_PRINTED {
            let mut request = requests.job_request(op::ACKNOWLEDGE_JOB, job_id);
            request.groups[0].push(Attribute::new(
                "fetch-status-code",
                Value::Enum(i32::from(crate::ipp::status::NOT_POSSIBLE)),
            ));
            request.groups[0].push(Attribute::new(
                "fetch-status-message",
                Value::text(&outcome.message),
            ));
            request
        } else {
            let mut request = requests.job_request(op::UPDATE_JOB_STATUS, job_id);
            let mut status = Group::new(group::JOB);
            status.push(Attribute::new(
                "output-device-job-state",
                Value::Enum(outcome.state as i32),
            ));
            if !outcome.message.is_empty() {
                status.push(Attribute::new(
                    "output-device-job-state-message",
                    Value::text(&outcome.message),
                ));
            }
            request.groups.push(status);
            request
        };
        match retry(stopped, || requests.call(&request)).await {
            Ok(_) => {}
            Err(e @ AgentError::Ipp { .. }) => {
                tracing::warn!(job = job_id, error = %e, "the server no longer holds this job for the agent; its outcome was not recorded there");
            }
            Err(e) => return Err(e),
        }
        if outcome.state == i64::from(job_state::COMPLETED) {
            self.board.delivered(&requests.printer.guid);
        }
        self.state
            .forget(&requests.printer.device_login, job_id)
            .await
    }
}

fn not_printed(error: &PushError) -> Outcome {
    Outcome {
        state: NOT_PRINTED,
        message: error.reason().to_string(),
    }
}

/// Retries `attempt` while the server cannot be reached (restart, network cut), until
/// it answers or the agent stops. Other errors return at once.
async fn retry<T, F, Fut>(stopped: &watch::Receiver<bool>, mut attempt: F) -> Result<T, AgentError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AgentError>>,
{
    let mut backoff = Duration::from_millis(250);
    loop {
        match attempt().await {
            Err(AgentError::Unreachable(why)) => {
                if *stopped.borrow() {
                    return Err(AgentError::Unreachable(why));
                }
                tracing::debug!(error = %why, "the server could not be reached; trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}
