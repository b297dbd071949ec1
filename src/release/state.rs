//! The release state machine: the states a release goes through and the moves allowed
//! between them.
//!
//! ```text
//! queued ──→ releasing ──→ sent
//!   ↑            │
//!   └────────────┘  nothing was sent: back to the queue (fetchable again)
//! queued | releasing | sent ──→ printed | failed | needs-attention   (final)
//! ```
//!
//! The enum itself is declared in `db/releases.rs`, where rows are read and written:
//! `db` is the ground floor and may not import `release`, and decoding the column there
//! keeps the one place that turns a string into a state (an unknown string is a decode
//! error naming it). Everything above `db` sees only the enum, through this module.
//! The statements in `db/releases.rs` perform exactly these moves (each guarded by a
//! `WHERE state = …`); the tests below pin the machine they implement.

pub use crate::db::{ReleaseEnd, ReleaseState, UnknownReleaseState};

impl ReleaseState {
    /// The states a release may move to from this one. A release never leaves a final
    /// state: a retry is a new release.
    pub fn next_states(self) -> &'static [ReleaseState] {
        use ReleaseState::*;
        match self {
            Queued => &[Releasing, Printed, Failed, NeedsAttention],
            Releasing => &[Queued, Sent, Printed, Failed, NeedsAttention],
            Sent => &[Printed, Failed, NeedsAttention],
            Printed | Failed | NeedsAttention => &[],
        }
    }

    /// Whether a release in this state may move to `next`.
    pub fn may_become(self, next: ReleaseState) -> bool {
        self.next_states().contains(&next)
    }

    /// Printed, failed or needing attention: the release is over (its job is printed,
    /// held again, or waiting for an admin's decision).
    pub fn is_final(self) -> bool {
        self.next_states().is_empty()
    }

    /// Queued or under way: it still counts as a delivery in progress.
    pub fn is_open(self) -> bool {
        !self.is_final()
    }

    /// A lease is held on it (a worker, an output device or an agent is delivering).
    pub fn is_leased(self) -> bool {
        matches!(self, ReleaseState::Releasing | ReleaseState::Sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReleaseState::*;

    #[test]
    fn the_column_spells_every_state_and_reads_it_back() {
        for state in ReleaseState::ALL {
            assert_eq!(state.as_str().parse::<ReleaseState>().unwrap(), state);
            assert_eq!(ReleaseState::try_from(state.to_string()).unwrap(), state);
        }
        assert_eq!(NeedsAttention.as_str(), "needs-attention");
    }

    #[test]
    fn an_unknown_string_is_an_error_that_names_it() {
        let error = "lost".parse::<ReleaseState>().unwrap_err();
        assert_eq!(error.to_string(), "unknown release state \"lost\"");
        assert!("Queued".parse::<ReleaseState>().is_err());
        assert!("".parse::<ReleaseState>().is_err());
    }

    #[test]
    fn a_queued_release_is_taken_or_ended() {
        assert!(Queued.may_become(Releasing));
        assert!(Queued.may_become(Failed));
        assert!(
            !Queued.may_become(Sent),
            "a release is taken before it is sent"
        );
        assert!(!Queued.may_become(Queued));
    }

    #[test]
    fn a_release_under_way_goes_on_back_or_ends() {
        assert!(Releasing.may_become(Sent));
        assert!(
            Releasing.may_become(Queued),
            "nothing sent: back to the queue"
        );
        assert!(Releasing.may_become(NeedsAttention));
        assert!(
            !Sent.may_become(Queued),
            "bytes were sent: never sent again by itself"
        );
        assert!(!Sent.may_become(Releasing));
        assert!(Sent.may_become(Printed));
    }

    #[test]
    fn final_states_are_never_left() {
        for end in [Printed, Failed, NeedsAttention] {
            assert!(end.is_final());
            for next in ReleaseState::ALL {
                assert!(!end.may_become(next), "{end} → {next}");
            }
        }
        for open in [Queued, Releasing, Sent] {
            assert!(open.is_open());
        }
    }

    #[test]
    fn every_end_is_final_and_reachable_from_every_open_state() {
        for end in [
            ReleaseEnd::Printed,
            ReleaseEnd::Failed,
            ReleaseEnd::NeedsAttention,
        ] {
            assert!(end.state().is_final());
            for open in [Queued, Releasing, Sent] {
                assert!(open.may_become(end.state()), "{open} → {}", end.state());
            }
        }
    }

    #[test]
    fn leases_are_held_only_while_delivering() {
        let leased: Vec<_> = ReleaseState::ALL
            .into_iter()
            .filter(|s| s.is_leased())
            .collect();
        assert_eq!(leased, [Releasing, Sent]);
    }
}
