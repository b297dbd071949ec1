//! What each assigned printer is doing, kept in memory for the heartbeat (the server's
//! Agents page) and for `agent status` (through the state file).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::release::AgentPrinterHealth;

/// What each printer is doing, for the heartbeat and the log.
#[derive(Clone, Default)]
pub struct HealthBoard(Arc<Mutex<HashMap<String, AgentPrinterHealth>>>);

impl HealthBoard {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, AgentPrinterHealth>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn set(&self, guid: &str, state: &str, error: Option<String>) {
        self.with(|board| {
            let entry = board.entry(guid.to_string()).or_default();
            entry.guid = guid.to_string();
            entry.state = state.to_string();
            if error.is_some() || state == "ready" {
                entry.last_error = error;
            }
        });
    }

    pub fn delivered(&self, guid: &str) {
        self.with(|board| board.entry(guid.to_string()).or_default().delivered += 1);
    }

    pub(super) fn snapshot(&self, guids: &[String]) -> Vec<AgentPrinterHealth> {
        self.with(|board| {
            board.retain(|guid, _| guids.contains(guid));
            let mut all: Vec<AgentPrinterHealth> = board.values().cloned().collect();
            all.sort_by(|a, b| a.guid.cmp(&b.guid));
            all
        })
    }
}
