//! A raw (port 9100, "JetDirect") printer for tests: a plain TCP accept loop that
//! keeps the bytes of every connection. It speaks no language itself; the test says
//! which one PrintPark should send (the printer's language setting) and checks the
//! bytes with independent tools.
//!
//! PrintPark's printer check only connects (a raw printer reports nothing), so
//! connections that sent nothing are counted apart from jobs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

#[derive(Default)]
struct Received {
    /// The bytes of each connection that sent any, in the order they ended.
    jobs: Vec<Vec<u8>>,
    /// Connections that closed without a byte.
    empty: usize,
}

pub struct RawPrinter {
    port: u16,
    received: Arc<Mutex<Received>>,
    changed: Arc<Notify>,
    accept: tokio::task::JoinHandle<()>,
}

impl RawPrinter {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Received::default()));
        let changed = Arc::new(Notify::new());
        let (store, notify) = (received.clone(), changed.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (store, notify) = (store.clone(), notify.clone());
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    // A reset mid-job still leaves what arrived.
                    let _ = socket.read_to_end(&mut got).await;
                    {
                        let mut r = store.lock().unwrap();
                        if got.is_empty() {
                            r.empty += 1;
                        } else {
                            r.jobs.push(got);
                        }
                    }
                    notify.notify_waiters();
                });
            }
        });
        Self {
            port,
            received,
            changed,
            accept,
        }
    }

    /// `socket://127.0.0.1:port`, as an admin enters a raw printer.
    pub fn uri(&self) -> String {
        format!("socket://127.0.0.1:{}", self.port)
    }

    /// Every job received so far (connections that sent bytes).
    pub fn jobs(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().jobs.clone()
    }

    /// Total bytes received, over all connections.
    pub fn bytes_received(&self) -> usize {
        self.received
            .lock()
            .unwrap()
            .jobs
            .iter()
            .map(Vec::len)
            .sum()
    }

    /// Waits until `count` jobs arrived; returns them.
    pub async fn wait_for_jobs(&self, count: usize, within: Duration) -> Vec<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            let jobs = self.jobs();
            if jobs.len() >= count {
                return jobs;
            }
            assert!(
                tokio::time::timeout_at(deadline, notified).await.is_ok(),
                "the raw printer got {} jobs, not {count}, within {within:?}",
                jobs.len()
            );
        }
    }
}

impl Drop for RawPrinter {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
