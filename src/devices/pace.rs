//! The packet rate of a scan: one token bucket shared by every datagram a `Prober`
//! sends — first probes, retries, SNMPv3 engine discovery and collection walks alike.
//!
//! Each datagram reserves the next free slot (`1 / rate` apart) and waits for it, so
//! the rate holds over any window and an idle spell is not made up for by a burst
//! afterwards (no catch-up). The scan loop uses `ready` to start a new probe only when
//! a slot is free at once: packets of probes already under way then never queue
//! behind a wall of new probes (their waits count against their time-outs).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    /// `rate_pps` datagrams per second (0 means no limit).
    pub fn new(rate_pps: u32) -> Self {
        let interval = if rate_pps == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(1.0 / f64::from(rate_pps))
        };
        Self {
            interval,
            next: Mutex::new(Instant::now()),
        }
    }

    /// Takes the next slot and waits until it comes.
    pub async fn acquire(&self) {
        if self.interval.is_zero() {
            return;
        }
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Waits until a datagram could go at once (takes nothing).
    pub async fn ready(&self) {
        loop {
            let next = *self.next.lock().unwrap_or_else(|e| e.into_inner());
            if next <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(next).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time (tokio's paused clock needs a feature the build does without): a
    // sleep never ends early, so lower bounds are exact; no upper bounds are asserted.

    #[tokio::test]
    async fn datagrams_are_spaced_by_the_rate() {
        let pacer = Pacer::new(200);
        let start = Instant::now();
        for _ in 0..11 {
            pacer.acquire().await;
        }
        // 11 slots 5 ms apart, the first at once.
        assert!(start.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn an_idle_spell_is_not_made_up_by_a_burst() {
        let pacer = Pacer::new(100);
        pacer.acquire().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after_idle = Instant::now();
        for _ in 0..4 {
            pacer.acquire().await;
        }
        // A catch-up would let the four go at once; slots are 10 ms apart instead.
        assert!(after_idle.elapsed() >= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn ready_waits_for_a_free_slot_without_taking_it() {
        let pacer = Pacer::new(10);
        pacer.acquire().await;
        let free = *pacer.next.lock().unwrap();
        let start = Instant::now();
        pacer.ready().await;
        assert!(start.elapsed() >= Duration::from_millis(90));
        assert!(Instant::now() >= free);
        // Nothing was taken: the free slot is still the next one.
        assert_eq!(*pacer.next.lock().unwrap(), free);
    }

    #[tokio::test]
    async fn concurrent_senders_share_one_rate() {
        let pacer = std::sync::Arc::new(Pacer::new(100));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let pacer = pacer.clone();
            tasks.spawn(async move { pacer.acquire().await });
        }
        while tasks.join_next().await.is_some() {}
        assert!(start.elapsed() >= Duration::from_millis(190));
    }

    #[tokio::test]
    async fn zero_means_no_limit() {
        let pacer = Pacer::new(0);
        for _ in 0..1000 {
            pacer.acquire().await;
        }
        pacer.ready().await;
        assert!(pacer.interval.is_zero());
        assert!(*pacer.next.lock().unwrap() <= Instant::now());
    }
}
