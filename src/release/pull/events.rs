//! ippget (RFC 3995/3996) for output devices: subscriptions, Get-Notifications with
//! its long wait, and noticing events written by other server processes.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{DeviceCaller, EVENT_LIFE_SECS, Infra, InfraError, LONGEST_WAIT};
use crate::clock::now;
use crate::db::EventRow;

impl Infra {
    /// Create-Printer-Subscriptions (ippget).
    pub async fn subscribe(
        &self,
        caller: &DeviceCaller,
        events: &[&str],
    ) -> Result<i64, InfraError> {
        Ok(self
            .release
            .db
            .create_infra_subscription(caller.device.id, caller.printer.id, &events.join(","))
            .await?)
    }

    pub async fn unsubscribe(&self, caller: &DeviceCaller, id: i64) -> Result<(), InfraError> {
        self.release
            .db
            .cancel_infra_subscription(id, caller.device.id)
            .await
            .map_err(|_| InfraError::NotFound(format!("no subscription {id} of this device")))
    }

    /// Get-Notifications: the events of the device's subscriptions from the sequence
    /// numbers it asks for. With `wait`, holds the request until an event comes or
    /// `wait` passes. Woken at once by events of this process; events written by
    /// another server process are seen within a second (one shared check per process,
    /// `watch_other_processes`), so an idle device costs nothing.
    pub async fn notifications(
        &self,
        caller: &DeviceCaller,
        wanted: &[(i64, i64)],
        wait: Option<Duration>,
    ) -> Result<Vec<EventRow>, InfraError> {
        for (id, _) in wanted {
            if !self
                .release
                .db
                .infra_subscription_of(*id, caller.device.id)
                .await?
            {
                return Err(InfraError::NotFound(format!(
                    "no subscription {id} of this device"
                )));
            }
        }
        let deadline = Instant::now() + wait.unwrap_or_default().min(LONGEST_WAIT);
        loop {
            // Registered before reading, so an event written meanwhile still wakes us.
            let bell = self.events.bell(caller.printer.id);
            let notified = bell.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mut events = Vec::new();
            for (id, from) in wanted {
                events.extend(
                    self.release
                        .db
                        .infra_events(*id, (*from).max(1), 100)
                        .await?,
                );
            }
            if !events.is_empty() || Instant::now() >= deadline || self.events.stopping() {
                return Ok(events);
            }
            // (The device's leases were renewed when it signed in for this request;
            // a hold is shorter than a lease.)
            self.events.waiting.fetch_add(1, Ordering::Relaxed);
            let _ = tokio::time::timeout_at(deadline.into(), notified).await;
            self.events.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Notices events written by other server processes sharing the database, and
    /// forgets old events: one cheap query a second (a sum over the subscriptions).
    pub fn watch_other_processes(&self) -> tokio::task::JoinHandle<()> {
        let infra = self.clone();
        tokio::spawn(async move {
            let mut marker = None;
            let mut last_purge = Instant::now();
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if last_purge.elapsed() > Duration::from_secs(600) {
                    last_purge = Instant::now();
                    if let Err(e) = infra
                        .release
                        .db
                        .purge_infra_events(now() - EVENT_LIFE_SECS)
                        .await
                    {
                        tracing::warn!(error = %e, "forgetting old INFRA events failed");
                    }
                }
                // Followed even while nobody waits: a request that read the events
                // just before another process wrote one must be woken by the next
                // tick, so the last value must be known before it starts waiting.
                match infra.release.db.infra_event_marker().await {
                    Ok(now) => {
                        if marker.is_some_and(|m| m != now)
                            && infra.events.waiting.load(Ordering::Relaxed) > 0
                        {
                            infra.events.ring_all();
                        }
                        marker = Some(now);
                    }
                    Err(e) => tracing::debug!(error = %e, "checking for INFRA events failed"),
                }
            }
        })
    }
}
