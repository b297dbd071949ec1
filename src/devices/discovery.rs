//! A discovery scan: probe every address of the plan with each credential in turn,
//! concurrently but within the packet rate (one token bucket for every datagram the
//! scan sends: `pace.rs`), collect what printers report, and keep the counters in the
//! `scans` row (progress for the admin page, cancel from it).
//!
//! Logging: silence is the normal answer of most addresses in a scan (a /24 has
//! hundreds), so a silent address, a refused credential or a non-SNMP answer is logged
//! at debug; a real fault (a local network or configuration error) at ERROR, once per
//! scan, and counted; the scan ends with one INFO summary (`scans.rs`). The SNMP crate
//! logs every failed request at ERROR itself (`#[instrument(err)]`): a probe runs with
//! no subscriber, and its outcome is classified and logged here instead.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::instrument::WithSubscriber;

use super::collect::collect;
use super::snmp::{Prober, SnmpCredential, SnmpError, SnmpSettings};
use super::{DeviceError, Devices};

/// Probes in flight at once; the rate limit is what really paces a scan.
const IN_FLIGHT: usize = 512;

/// Counters of a scan as it runs.
#[derive(Debug, Clone, Default)]
pub struct ScanProgress {
    pub scan_id: i64,
    pub total: i64,
    pub probed: i64,
    pub printers: i64,
    pub others: i64,
    pub packets: i64,
    /// Addresses that did not answer (with any credential).
    pub silent: i64,
    /// Probes that failed on this side (network or configuration faults).
    pub faults: i64,
    pub finished: bool,
    pub state: String,
}

#[derive(Default)]
struct Counters {
    probed: AtomicI64,
    printers: AtomicI64,
    others: AtomicI64,
    silent: AtomicI64,
    faults: AtomicI64,
}

/// What a failed probe means in a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeFailure {
    /// No answer (nothing there, no SNMP agent, a wrong community) or an unreachable
    /// host: the normal answer of most addresses.
    Silent,
    /// An SNMPv3 agent refused the credential: the next one is tried.
    Refused,
    /// Something answered that is not (well-formed) SNMP.
    NotSnmp,
    /// A fault on this side: the socket, the network, the credential's settings.
    Fault,
}

fn classify(error: &SnmpError) -> ProbeFailure {
    match error {
        SnmpError::Timeout => ProbeFailure::Silent,
        SnmpError::Refused(_) => ProbeFailure::Refused,
        SnmpError::Garbage(_) | SnmpError::Agent(_) | SnmpError::Walk(_) => ProbeFailure::NotSnmp,
        // A host that ARP or the router says is not there is silence too.
        SnmpError::Io(text) if text.to_ascii_lowercase().contains("unreachable") => {
            ProbeFailure::Silent
        }
        SnmpError::Io(_) | SnmpError::Config(_) => ProbeFailure::Fault,
    }
}

/// Runs scan `scan_id` over `addresses` to the end (or until cancelled), calling
/// `on_progress` about four times a second. The scan row ends `done`, `cancelled` or
/// `failed`.
pub async fn run(
    devices: &Devices,
    scan_id: i64,
    addresses: Vec<Ipv4Addr>,
    credentials: Vec<(Option<i64>, SnmpCredential)>,
    settings: SnmpSettings,
    on_progress: &(dyn Fn(&ScanProgress) + Send + Sync),
) -> Result<ScanProgress, DeviceError> {
    let total = addresses.len() as i64;
    let prober = match Prober::new(settings).await {
        Ok(p) => Arc::new(p),
        Err(e) => {
            devices
                .db
                .finish_scan(scan_id, "failed", &e.to_string())
                .await?;
            return Err(e.into());
        }
    };
    let counters = Arc::new(Counters::default());
    let credentials = Arc::new(credentials);
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    let mut report = tokio::time::interval(Duration::from_millis(250));
    let mut cancelled = false;
    let snapshot = |finished: bool, state: &str| ScanProgress {
        scan_id,
        total,
        probed: counters.probed.load(Ordering::Relaxed),
        printers: counters.printers.load(Ordering::Relaxed),
        others: counters.others.load(Ordering::Relaxed),
        packets: prober.packets_sent() as i64,
        silent: counters.silent.load(Ordering::Relaxed),
        faults: counters.faults.load(Ordering::Relaxed),
        finished,
        state: state.into(),
    };
    let mut queue = addresses.into_iter().peekable();
    loop {
        let starting = !cancelled && queue.peek().is_some();
        if !starting && tasks.is_empty() {
            break;
        }
        tokio::select! {
            _ = report.tick() => {
                let now = snapshot(false, "running");
                on_progress(&now);
                let stop = devices
                    .db
                    .scan_progress(scan_id, now.probed, now.printers, now.others, now.packets)
                    .await
                    .unwrap_or(false);
                if stop && !cancelled {
                    cancelled = true;
                    tracing::info!(scan = scan_id, "discovery scan cancelled");
                }
            }
            // Both waits are cancel-safe: a progress tick meanwhile drops them and
            // nothing is lost (the address is taken from the queue only after).
            permit = next_start(&gate, &prober), if starting => {
                let Some(ip) = queue.next() else { continue };
                let (devices, prober, counters, credentials) =
                    (devices.clone(), prober.clone(), counters.clone(), credentials.clone());
                tasks.spawn(async move {
                    probe_one(&devices, &prober, &counters, &credentials, IpAddr::V4(ip)).await;
                    drop(permit);
                });
            }
            // In-flight probes finish even after a cancel (their time-outs bound them).
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    let state = if cancelled { "cancelled" } else { "done" };
    let end = snapshot(true, state);
    devices
        .db
        .scan_progress(scan_id, end.probed, end.printers, end.others, end.packets)
        .await?;
    devices.db.finish_scan(scan_id, state, "").await?;
    on_progress(&end);
    Ok(end)
}

/// An in-flight slot, then the rate's slot for the probe's first datagram.
#[allow(
    clippy::expect_used,
    reason = "the semaphore is this scan's own and nothing closes it"
)]
async fn next_start(gate: &Arc<Semaphore>, prober: &Prober) -> OwnedSemaphorePermit {
    let permit = gate
        .clone()
        .acquire_owned()
        .await
        .expect("the scan's semaphore is never closed");
    prober.ready_to_start().await;
    permit
}

/// Tries each credential until one gets an answer; a device that answers is
/// collected (printers fully, others as what they are) and saved.
async fn probe_one(
    devices: &Devices,
    prober: &Prober,
    counters: &Counters,
    credentials: &[(Option<i64>, SnmpCredential)],
    ip: IpAddr,
) {
    let mut silent = true;
    for (credential_id, credential) in credentials {
        // Quiet: the SNMP crate would log this probe's time-out at ERROR.
        let probed = prober
            .probe(ip, credential)
            .with_subscriber(tracing::subscriber::NoSubscriber::default())
            .await;
        match probed {
            Ok(answer) => {
                silent = false;
                let saved = match prober.session(ip, credential).await {
                    Ok(session) => match collect(&session).await {
                        Ok(report) => devices.save_report(ip, *credential_id, &report).await,
                        Err(e) => devices.save_answer(ip, *credential_id, &answer, &e).await,
                    },
                    Err(e) => devices.save_answer(ip, *credential_id, &answer, &e).await,
                };
                match saved {
                    Ok(true) => counters.printers.fetch_add(1, Ordering::Relaxed),
                    Ok(false) => counters.others.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(%ip, error = %e, "saving a discovered device failed");
                        0
                    }
                };
                break;
            }
            Err(e) => match classify(&e) {
                // Silence (a wrong community looks the same) or a refusal: next credential.
                ProbeFailure::Silent => {
                    tracing::debug!(%ip, "no SNMP answer");
                }
                ProbeFailure::Refused => {
                    silent = false;
                    tracing::debug!(%ip, error = %e, "the credential was refused");
                }
                ProbeFailure::NotSnmp => {
                    silent = false;
                    tracing::debug!(%ip, error = %e, "an address answered something that is not SNMP");
                    break;
                }
                ProbeFailure::Fault => {
                    silent = false;
                    // The first fault of a scan is an ERROR; the others would repeat it.
                    if counters.faults.fetch_add(1, Ordering::Relaxed) == 0 {
                        tracing::error!(%ip, error = %e, "a discovery probe failed on this side");
                    } else {
                        tracing::debug!(%ip, error = %e, "a discovery probe failed on this side");
                    }
                    break;
                }
            },
        }
    }
    if silent {
        counters.silent.fetch_add(1, Ordering::Relaxed);
    }
    counters.probed.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::{ProbeFailure, classify};
    use crate::devices::snmp::SnmpError;

    #[test]
    fn silence_is_not_a_fault() {
        assert_eq!(classify(&SnmpError::Timeout), ProbeFailure::Silent);
        assert_eq!(
            classify(&SnmpError::Io("No route to host: host unreachable".into())),
            ProbeFailure::Silent
        );
        assert_eq!(
            classify(&SnmpError::Refused("unknown user".into())),
            ProbeFailure::Refused
        );
        assert_eq!(
            classify(&SnmpError::Garbage("not BER".into())),
            ProbeFailure::NotSnmp
        );
        assert_eq!(
            classify(&SnmpError::Io("socket closed".into())),
            ProbeFailure::Fault
        );
        assert_eq!(
            classify(&SnmpError::Config("short password".into())),
            ProbeFailure::Fault
        );
    }
}
