//! One assigned printer: the agent is its IPP INFRA output device. It registers once
//! per process, subscribes to job-fetchable events, asks Get-Jobs for what is already
//! waiting, then long-polls Get-Notifications; every job it hears of goes to the
//! printer's delivery task (`delivery.rs`), so polling — which also renews the
//! server's lease on the jobs being delivered — never waits for a printer.
//!
//! The server being restarted or the network cut only makes requests fail: the loop
//! retries with a short backoff and carries on with the same subscription (events are
//! kept in the server's database, numbered), so nothing is missed and nothing repeats.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::channel::Channel;
use super::delivery::Deliverer;
use super::requests::{Requests, ok};
use super::{AgentError, HealthBoard};
use crate::ipp::client::{PrinterReport, PrinterState, new_request};
use crate::ipp::wire::{Attribute, Group, Value, group};
use crate::ipp::{op, status};
use crate::release::AgentPrinter;

/// How often the printer's state is read and reported up when nothing else happens.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// A running printer: drop or `stop` it to end its tasks.
pub struct PrinterTask {
    pub printer: AgentPrinter,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl PrinterTask {
    pub fn spawn(
        channel: Channel,
        printer: AgentPrinter,
        deliverer: Deliverer,
        board: HealthBoard,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let requests = Arc::new(Requests::new(channel, printer.clone()));
        let task = tokio::spawn(run(requests, deliverer, board, stopped));
        Self {
            printer,
            stop,
            task,
        }
    }

    /// Ends polling; a delivery under way finishes first (up to `grace`).
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}

async fn run(
    requests: Arc<Requests>,
    deliverer: Deliverer,
    board: HealthBoard,
    mut stopped: watch::Receiver<bool>,
) {
    let guid = requests.printer.guid.clone();
    board.set(&guid, "connecting", None);
    // Jobs the device has heard of and not finished (a job can come back later, e.g.
    // an admin's retry, and is then taken again).
    let busy: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let (queue, jobs) = mpsc::unbounded_channel::<i64>();
    let worker = tokio::spawn(deliverer.clone().work(
        requests.clone(),
        jobs,
        busy.clone(),
        stopped.clone(),
    ));
    // What an earlier run left goes first, before Register (which tells the server
    // that this device forgot what it held).
    // Meanwhile a cheap request now and then keeps the server's lease on them (the
    // poller, which does that otherwise, starts after).
    let keep_lease = async {
        loop {
            tokio::time::sleep(Duration::from_secs(15)).await;
            let _ = requests
                .call(&requests.request(op::GET_PRINTER_ATTRIBUTES))
                .await;
        }
    };
    let leftovers = tokio::select! {
        done = deliverer.finish_leftovers(&requests, &stopped) => done,
        _ = keep_lease => Ok(()),
    };
    if let Err(e) = leftovers {
        tracing::warn!(printer = %requests.printer.name, error = %e, "finishing the jobs of the last run failed");
    }
    let mut poller = Poller {
        requests: requests.clone(),
        queue,
        busy,
        board: board.clone(),
        registered: false,
        reported: None,
        subscription: None,
        seq: 1,
    };
    let mut backoff = Duration::from_millis(500);
    while !*stopped.borrow() {
        let outcome = tokio::select! {
            outcome = poller.serve() => outcome,
            _ = stopped.wait_for(|s| *s) => break,
        };
        match outcome {
            Ok(()) => break,
            Err(e @ AgentError::Unauthenticated(_)) => {
                board.set(&guid, "error", Some(e.to_string()));
                tracing::error!(printer = %requests.printer.name, error = %e, "the server refused this printer's credential");
                backoff = Duration::from_secs(15);
            }
            Err(e) => {
                board.set(&guid, "error", Some(e.to_string()));
                tracing::warn!(printer = %requests.printer.name, error = %e, "the server could not be reached; trying again");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped.wait_for(|s| *s) => break,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
        if poller.subscription.is_some() {
            backoff = backoff.min(Duration::from_secs(2));
        }
    }
    drop(poller);
    let _ = worker.await;
    // Leaving for good: the server gives back what this device had not started.
    if *stopped.borrow() {
        let _ = requests
            .call(&requests.request(op::DEREGISTER_OUTPUT_DEVICE))
            .await;
    }
}

struct Poller {
    requests: Arc<Requests>,
    queue: mpsc::UnboundedSender<i64>,
    busy: Arc<Mutex<HashSet<i64>>>,
    board: HealthBoard,
    registered: bool,
    subscription: Option<i32>,
    seq: i32,
    /// What was last reported up: the same state is not written again.
    reported: Option<String>,
}

impl Poller {
    fn take(&self, job_id: i64) {
        let fresh = self
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job_id);
        if fresh {
            let _ = self.queue.send(job_id);
        }
    }

    /// Until an error: (register,) subscribe, report, Get-Jobs, then long-poll.
    async fn serve(&mut self) -> Result<(), AgentError> {
        if !self.registered {
            let mut request = new_request(
                op::REGISTER_OUTPUT_DEVICE,
                &self.requests.channel.ipps_uri("/ipp/system"),
                &self.requests.printer.device_login,
            );
            for attribute in &mut request.groups[0].attributes {
                if attribute.name == "printer-uri" {
                    attribute.name = "system-uri".into();
                }
            }
            request.groups[0].push(Attribute::new(
                "output-device-uuid",
                Value::uri(&self.requests.uuid),
            ));
            request.groups[0].push(Attribute::new(
                "printer-service-type",
                Value::keyword("print"),
            ));
            let answer = self
                .requests
                .channel
                .ipp("/ipp/system", self.requests.credential(), &request)
                .await?;
            ok(answer)?;
            self.registered = true;
            tracing::info!(printer = %self.requests.printer.name, "registered as the printer's output device");
        }
        if self.subscription.is_none() {
            self.subscribe().await?;
        }
        self.report().await?;
        self.get_jobs().await?;
        self.board.set(&self.requests.printer.guid, "ready", None);
        let mut last_report = tokio::time::Instant::now();
        loop {
            self.poll().await?;
            if last_report.elapsed() >= REPORT_EVERY {
                self.report().await?;
                last_report = tokio::time::Instant::now();
            }
        }
    }

    async fn subscribe(&mut self) -> Result<(), AgentError> {
        let mut request = self.requests.request(op::CREATE_PRINTER_SUBSCRIPTIONS);
        let mut subscription = Group::new(group::SUBSCRIPTION);
        subscription.push(Attribute::new(
            "notify-pull-method",
            Value::keyword("ippget"),
        ));
        subscription.push(Attribute::many(
            "notify-events",
            vec![Value::keyword("job-fetchable")],
        ));
        subscription.push(Attribute::new("notify-lease-duration", Value::Integer(0)));
        request.groups.push(subscription);
        let answer = self.requests.call(&request).await?;
        let id = answer
            .find_int("notify-subscription-id")
            .ok_or_else(|| AgentError::Protocol("no notify-subscription-id".into()))?;
        self.subscription = Some(id);
        self.seq = 1;
        Ok(())
    }

    async fn get_jobs(&mut self) -> Result<(), AgentError> {
        let mut request = self.requests.request(op::GET_JOBS);
        request.groups[0].push(Attribute::new("which-jobs", Value::keyword("fetchable")));
        let answer = self.requests.call(&request).await?;
        for job in answer.groups.iter().filter(|g| g.tag == group::JOB) {
            if let Some(id) = job
                .get("job-id")
                .and_then(|a| a.first())
                .and_then(Value::as_int)
            {
                self.take(i64::from(id));
            }
        }
        Ok(())
    }

    async fn poll(&mut self) -> Result<(), AgentError> {
        let Some(subscription) = self.subscription else {
            return self.subscribe().await;
        };
        let mut request = self.requests.request(op::GET_NOTIFICATIONS);
        let ops = &mut request.groups[0];
        ops.push(Attribute::new(
            "notify-subscription-ids",
            Value::Integer(subscription),
        ));
        ops.push(Attribute::new(
            "notify-sequence-numbers",
            Value::Integer(self.seq),
        ));
        ops.push(Attribute::new("notify-wait", Value::Boolean(true)));
        let answer = self
            .requests
            .channel
            .ipp(&self.requests.path, self.requests.credential(), &request)
            .await?;
        if answer.code == status::NOT_FOUND {
            // The subscription is gone (events expired after a long absence): start
            // again, and ask what is waiting.
            self.subscription = None;
            self.subscribe().await?;
            return self.get_jobs().await;
        }
        let answer = ok(answer)?;
        for event in answer
            .groups
            .iter()
            .filter(|g| g.tag == group::EVENT_NOTIFICATION)
        {
            let int = |name: &str| {
                event
                    .get(name)
                    .and_then(|a| a.first())
                    .and_then(Value::as_int)
            };
            if let Some(seq) = int("notify-sequence-number").filter(|s| *s >= self.seq) {
                self.seq = seq + 1;
            }
            let fetchable = event
                .get("notify-subscribed-event")
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                == Some("job-fetchable");
            if let Some(job) = int("notify-job-id").or(int("job-id")).filter(|_| fetchable) {
                self.take(i64::from(job));
            }
        }
        Ok(())
    }

    /// Reads the printer's state and capabilities and reports them up
    /// (Update-Output-Device-Attributes).
    async fn report(&mut self) -> Result<(), AgentError> {
        let uri = &self.requests.printer.uri;
        let report = if uri.starts_with("socket://") {
            None
        } else {
            match crate::ipp::client::get_printer_attributes(uri, None, &Default::default()).await {
                Ok(report) => Some(report),
                Err(e) => {
                    tracing::warn!(printer = %self.requests.printer.name, error = %e, "the printer did not answer");
                    None
                }
            }
        };
        let group = printer_group(report.as_ref());
        let said = format!("{:?}", group.attributes);
        if self.reported.as_deref() == Some(said.as_str()) {
            return Ok(());
        }
        let mut request = self.requests.request(op::UPDATE_OUTPUT_DEVICE_ATTRIBUTES);
        request.groups.push(group);
        self.requests.call(&request).await?;
        self.reported = Some(said);
        Ok(())
    }
}

/// The printer's description as the server shows it (state, reasons, make, formats).
fn printer_group(report: Option<&PrinterReport>) -> Group {
    let mut printer = Group::new(group::PRINTER);
    let Some(report) = report else {
        printer.push(Attribute::new("printer-state", Value::Enum(3)));
        printer.push(Attribute::new(
            "printer-state-reasons",
            Value::keyword("none"),
        ));
        return printer;
    };
    let state = match report.state {
        PrinterState::Idle => 3,
        PrinterState::Processing => 4,
        PrinterState::Stopped => 5,
    };
    printer.push(Attribute::new("printer-state", Value::Enum(state)));
    let reasons = if report.reasons.is_empty() {
        vec![Value::keyword("none")]
    } else {
        report
            .reasons
            .iter()
            .filter(|r| is_keyword(r))
            .map(|r| Value::keyword(r))
            .collect()
    };
    printer.push(Attribute::many("printer-state-reasons", reasons));
    printer.push(Attribute::new(
        "printer-state-message",
        Value::text(clip(&report.message, TEXT_MAX)),
    ));
    printer.push(Attribute::new(
        "printer-make-and-model",
        Value::text(clip(&report.make_model, TEXT_MAX)),
    ));
    let formats: Vec<Value> = report
        .formats
        .iter()
        .filter(|f| f.len() <= NAME_MAX)
        .map(|f| Value::mime(f))
        .collect();
    if !formats.is_empty() {
        printer.push(Attribute::many("document-format-supported", formats));
    }
    printer.push(Attribute::new(
        "color-supported",
        Value::Boolean(report.color_supported),
    ));
    printer
}

/// RFC 8010 §3.9 limits: the server refuses longer text (1023 octets) and keywords,
/// names or MIME types (255); a printer's own words are passed up cut to fit, so one
/// chatty printer cannot make its agent's status updates fail.
const TEXT_MAX: usize = 1023;
const NAME_MAX: usize = 255;

fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn is_keyword(s: &str) -> bool {
    (1..=NAME_MAX).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::{clip, is_keyword};

    #[test]
    fn a_printers_words_are_cut_to_what_the_server_accepts() {
        let long = "é".repeat(600); // 1200 octets
        let cut = clip(&long, 1023);
        assert!(cut.len() <= 1023 && cut.len() >= 1022);
        assert_eq!(clip("ready", 1023), "ready");
        assert!(is_keyword("media-empty-warning"));
        assert!(!is_keyword("Media Empty"));
        assert!(!is_keyword(&"a".repeat(256)));
    }
}
