//! The packet rate of a scan: one token bucket shared by every datagram a `Prober`
//! sends to addresses not yet known to answer — first probes, retries and SNMPv3
//! engine discovery alike. (Collection from a device that answered keeps one request
//! in flight and waits for each answer: the device paces it.)
//!
//! Each datagram reserves the next free slot (`1 / rate` apart) and waits for it, so
//! the rate holds over any window and an idle spell is not made up for by a burst
//! afterwards (no catch-up). The scan loop takes the slot of a new probe's first
//! datagram itself (`start`), and only when no datagram of a probe under way is
//! waiting: those never queue behind a wall of new probes (their waits count against
//! their time-outs). The slot it took is left as a prepaid token that the next
//! datagram uses at once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

pub struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
    /// Datagrams waiting for their slot now.
    waiting: AtomicUsize,
    /// Slots already waited for by `start`, not used yet.
    prepaid: AtomicUsize,
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
            waiting: AtomicUsize::new(0),
            prepaid: AtomicUsize::new(0),
        }
    }

    /// Takes the next slot and waits until it comes (or uses a prepaid one).
    pub async fn acquire(&self) {
        if self.interval.is_zero() {
            return;
        }
        if self
            .prepaid
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return;
        }
        self.reserve().await;
    }

    async fn reserve(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        if slot > Instant::now() {
            // Counted while waiting, also when the wait is dropped (a cancelled future).
            struct Waiting<'a>(&'a AtomicUsize);
            impl Drop for Waiting<'_> {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, Ordering::SeqCst);
                }
            }
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let _waiting = Waiting(&self.waiting);
            tokio::time::sleep_until(slot).await;
        }
    }

    /// For a new probe: waits until no datagram is waiting for its slot (what is
    /// under way goes first), then takes a slot, waits for it, and leaves it prepaid
    /// for the probe's first datagram.
    pub async fn start(&self) {
        if self.interval.is_zero() {
            return;
        }
        loop {
            let next = *self.next.lock().unwrap_or_else(|e| e.into_inner());
            if next > Instant::now() {
                tokio::time::sleep_until(next).await;
            } else if self.waiting.load(Ordering::SeqCst) > 0
                || self.prepaid.load(Ordering::SeqCst) > 0
            {
                tokio::time::sleep(self.interval.max(Duration::from_millis(1))).await;
            } else {
                break;
            }
        }
        self.reserve().await;
        self.prepaid.fetch_add(1, Ordering::SeqCst);
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
    async fn a_started_probe_sends_its_first_datagram_at_once_on_the_slot_it_waited_for() {
        let pacer = Pacer::new(10);
        pacer.acquire().await;
        let start = Instant::now();
        pacer.start().await;
        // The slot 100 ms later was waited for by `start`…
        assert!(start.elapsed() >= Duration::from_millis(90));
        assert_eq!(pacer.prepaid.load(Ordering::SeqCst), 1);
        let next = *pacer.next.lock().unwrap();
        // …and the probe's datagram uses it without taking another.
        pacer.acquire().await;
        assert_eq!(pacer.prepaid.load(Ordering::SeqCst), 0);
        assert_eq!(*pacer.next.lock().unwrap(), next);
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
    async fn ready_lets_waiting_datagrams_go_first() {
        let pacer = std::sync::Arc::new(Pacer::new(50));
        let start = Instant::now();
        pacer.acquire().await;
        // A retry is waiting for the next slot (20 ms away)…
        let retry = {
            let pacer = pacer.clone();
            tokio::spawn(async move { pacer.acquire().await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(pacer.waiting.load(Ordering::SeqCst), 1);
        // …so a new probe starts only after it went, on the slot after.
        pacer.start().await;
        assert!(start.elapsed() >= Duration::from_millis(40));
        assert_eq!(pacer.waiting.load(Ordering::SeqCst), 0);
        retry.await.unwrap();
    }

    #[tokio::test]
    async fn a_dropped_wait_is_no_longer_counted() {
        let pacer = Pacer::new(10);
        pacer.acquire().await;
        let wait = tokio::time::timeout(Duration::from_millis(10), pacer.acquire()).await;
        assert!(wait.is_err());
        assert_eq!(pacer.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn zero_means_no_limit() {
        let pacer = Pacer::new(0);
        for _ in 0..1000 {
            pacer.acquire().await;
        }
        pacer.start().await;
        assert!(pacer.interval.is_zero());
        assert!(*pacer.next.lock().unwrap() <= Instant::now());
    }
}
