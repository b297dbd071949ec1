//! The order loop: the server long-polls this agent with the releases of jobs parked
//! here (or failover copies of another workstation's); each is claimed, its lease kept,
//! sent to the printer with the server's push code, and its outcome reported.

use std::sync::Arc;
use std::time::Duration;

use super::store::{ParkedJob, ParkedStore};
use crate::agent::AgentError;
use crate::agent::channel::Channel;
use crate::agent::state::AgentState;
use crate::convert::Converter;
use crate::release::push::{self, Completion, PushError, PushJob, PushTarget};
use crate::release::{AgentOrder, AgentOrdersRequest, AgentOutcome};

/// Delivers what the server orders, until the process ends.
pub async fn deliver_orders(
    channel: Channel,
    credential: (String, String),
    store: Arc<ParkedStore>,
    state: AgentState,
) {
    let cred = (credential.0.as_str(), credential.1.as_str());
    let converter = crate::agent::converter();
    // Orders taken before a restart: the printer may hold them.
    if let Ok(rows) = state.deliveries("workstation").await {
        for row in rows {
            let outcome = if row.phase == "done" {
                AgentOutcome {
                    outcome: outcome_word(row.outcome).into(),
                    message: row.message.clone(),
                }
            } else {
                AgentOutcome {
                    outcome: "unknown".into(),
                    message: "the agent stopped while delivering".into(),
                }
            };
            report(&channel, cred, &state, row.job_id, &outcome).await;
        }
    }
    loop {
        let request = AgentOrdersRequest {
            refs: store.references(),
        };
        match channel.orders(cred, &request).await {
            Ok(orders) => {
                for reference in &orders.discard {
                    store.remove(reference).await;
                }
                for order in orders.orders {
                    deliver(&channel, cred, &store, &state, &converter, &order).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "asking the server for releases failed; trying again");
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        }
    }
}

fn outcome_word(state: i64) -> &'static str {
    match state {
        9 => "printed",
        0 => "not-printed",
        _ => "unknown",
    }
}

async fn deliver(
    channel: &Channel,
    cred: (&str, &str),
    store: &ParkedStore,
    state: &AgentState,
    converter: &Converter,
    order: &AgentOrder,
) {
    // A lost answer must not leave the release taken and undelivered: the claim is
    // idempotent, so it is asked again while the server cannot be reached.
    let mut claimed = channel.claim(cred, order.release_id).await;
    for _ in 0..30 {
        match claimed {
            Err(AgentError::Unreachable(_)) => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                claimed = channel.claim(cred, order.release_id).await;
            }
            _ => break,
        }
    }
    if let Err(e) = claimed {
        tracing::info!(release = order.release_id, error = %e, "not taking this release");
        return;
    }
    // The server's lease on the release is kept while the job is fetched, sent and
    // followed (a long job, a printer warming up).
    let keep_lease = async {
        loop {
            tokio::time::sleep(Duration::from_secs(15)).await;
            if let Err(e) = channel.renew(cred, order.release_id).await {
                tracing::debug!(release = order.release_id, error = %e, "renewing the release's lease failed");
            }
        }
    };
    let delivered = async {
        if order.failover {
            // The workstation that keeps the job is away: its failover copy, sealed
            // with the site key this agent holds too.
            let fetched = match channel.download_copy(cred, order.job_id).await {
                Ok((wrapped, mut reader)) => store
                    .import(&order.agent_ref, &wrapped, &mut reader)
                    .await
                    .map_err(|e| AgentError::Unreachable(e.to_string())),
                Err(e) => Err(e),
            };
            if let Err(e) = fetched {
                return (0, format!("the failover copy could not be fetched: {e}"));
            }
            tracing::info!(
                release = order.release_id,
                "delivering another workstation's job from its failover copy"
            );
        }
        // Without the mark nothing may be sent: after a crash the job would look
        // unsent and go out twice (the printer task does the same).
        if let Err(e) = state
            .record("workstation", order.release_id, "sending", 0, "")
            .await
        {
            return (0, format!("the delivery could not be recorded: {e}"));
        }
        send(store, state, converter, order).await
    };
    let (code, message) = tokio::select! {
        outcome = delivered => outcome,
        _ = keep_lease => unreachable!("the lease keeper never ends"),
    };
    if let Err(e) = state
        .record("workstation", order.release_id, "done", code, &message)
        .await
    {
        tracing::warn!(release = order.release_id, error = %e, "recording a delivery's outcome failed; reporting it all the same");
    }
    if code == 9 || order.failover {
        store.remove(&order.agent_ref).await;
    }
    let outcome = AgentOutcome {
        outcome: outcome_word(code).into(),
        message,
    };
    report(channel, cred, state, order.release_id, &outcome).await;
}

/// (job state as in `agent/state.rs`: 9 printed, 0 nothing sent, 8 unknown; message)
async fn send(
    store: &ParkedStore,
    state: &AgentState,
    converter: &Converter,
    order: &AgentOrder,
) -> (i64, String) {
    let job = PushJob {
        name: order.job_name.clone(),
        user_name: order.owner.clone(),
        format: if order.format.is_empty() {
            "application/octet-stream".into()
        } else {
            order.format.clone()
        },
        copies: order.copies.clamp(1, 999) as u32,
        sides: order.sides.clone(),
        color_mode: order.color_mode.clone(),
        page_ranges: None,
        media: None,
    };
    // The printer's certificate is pinned on first use, as the server and the site
    // agent do: a machine that takes its place later gets nothing.
    // An unreadable pin is not "no pin": trusting any certificate then would undo
    // the pinning, so the job is not sent.
    let pin = match state.printer_pin(&order.printer_uri).await {
        Ok(pin) => pin,
        Err(e) => {
            tracing::warn!(release = order.release_id, error = %e, "reading the printer's pinned certificate failed");
            return (
                0,
                format!("the printer's pinned certificate could not be read: {e}"),
            );
        }
    };
    let mut target = PushTarget {
        uri: order.printer_uri.clone(),
        tls_pin: pin.clone(),
        language: PushTarget::parse_language(order.printer_language.as_deref()),
        ..Default::default()
    };
    // What the printer takes, to convert what it does not (none for raw printers).
    if !order.printer_uri.starts_with("socket://")
        && let Ok(report) = crate::ipp::client::get_printer_attributes(
            &order.printer_uri,
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
        match push::connect(&target, &job, &timeouts).await {
            Ok(link) => break link,
            // Busy with another job (the server's, say): ask again for two minutes.
            Err(PushError::NotSent {
                retry_later: true, ..
            }) if attempts < 60 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return (0, e.reason().to_string()),
        }
    };
    if let (None, Some(seen)) = (&pin, link.cert_sha256()) {
        state.pin_on_first_use(&order.printer_uri, seen).await;
    }
    let mut source = ParkedJob {
        store,
        reference: &order.agent_ref,
    };
    match link.send(&job, &mut source, converter).await {
        Ok(sent) => match sent.follow(Duration::from_secs(600)).await {
            Completion::Completed => (9, String::new()),
            Completion::Failed(reason) => (0, format!("the printer did not print it: {reason}")),
            Completion::Unknown(reason) => (8, format!("sent in full, then {reason}")),
        },
        Err(e @ PushError::Interrupted { .. }) => (8, e.reason().to_string()),
        Err(e) => (0, e.reason().to_string()),
    }
}

async fn report(
    channel: &Channel,
    cred: (&str, &str),
    state: &AgentState,
    release_id: i64,
    outcome: &AgentOutcome,
) {
    loop {
        match channel.outcome(cred, release_id, outcome).await {
            Ok(()) | Err(AgentError::Refused(_)) => break,
            Err(e) => {
                tracing::warn!(release = release_id, error = %e, "reporting a delivery failed; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
    if let Err(e) = state.forget("workstation", release_id).await {
        tracing::warn!(release = release_id, error = %e, "forgetting a reported delivery failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::MasterKey;

    fn order() -> AgentOrder {
        AgentOrder {
            release_id: 7,
            job_id: 3,
            failover: false,
            agent_ref: "abc".into(),
            printer_name: "hall".into(),
            printer_uri: "ipps://127.0.0.1:1/ipp/print".into(),
            job_name: "report".into(),
            owner: "ann".into(),
            format: String::new(),
            copies: 1,
            sides: String::new(),
            color_mode: String::new(),
            printer_language: None,
        }
    }

    /// A pin that cannot be read is not "no pin": the job is refused (not printed,
    /// said why), never sent to whatever certificate answers.
    #[tokio::test]
    async fn an_unreadable_printer_pin_stops_the_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let state = AgentState::open(dir.path()).await.unwrap();
        let store = ParkedStore::at(&dir.path().join("parked"), MasterKey::generate()).unwrap();
        state.close().await;
        let (code, message) = send(&store, &state, &Converter::new(None), &order()).await;
        assert_eq!(code, 0);
        assert!(
            message.contains("pinned certificate could not be read"),
            "{message}"
        );
    }
}
