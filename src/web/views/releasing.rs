//! What the pages that follow releases (station, phone, portal) share: the progress
//! line of one release as its owner sees it.

use super::when;
use crate::db::ReleaseRow;
use crate::release::ReleaseState;

/// One release as its owner sees it while it runs.
pub struct ReleaseLine {
    pub job: String,
    pub printer: String,
    pub state: &'static str,
    /// `waiting`, `active`, `done`, `failed` (CSS class and test hook).
    pub class: &'static str,
    pub reason: String,
    pub at: String,
}

impl From<&ReleaseRow> for ReleaseLine {
    fn from(r: &ReleaseRow) -> Self {
        let (state, class) = match r.state {
            ReleaseState::Queued if r.attempts > 0 => ("Waiting for the printer", "waiting"),
            ReleaseState::Queued => ("Queued", "waiting"),
            ReleaseState::Releasing => ("Sending to the printer", "active"),
            ReleaseState::Sent => ("Printing", "active"),
            ReleaseState::Printed => ("Printed", "done"),
            ReleaseState::Failed => ("Not printed", "failed"),
            ReleaseState::NeedsAttention => ("Needs attention", "failed"),
        };
        Self {
            job: r.job_name.clone(),
            printer: r.printer_name.clone(),
            state,
            class,
            reason: r.reason.clone(),
            at: when(r.created_at),
        }
    }
}

/// True while any release is still on its way (the page refreshes itself).
pub fn any_active(lines: &[ReleaseLine]) -> bool {
    lines
        .iter()
        .any(|l| matches!(l.class, "waiting" | "active"))
}
