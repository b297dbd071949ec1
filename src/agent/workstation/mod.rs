//! The workstation agent: jobs never leave the building. A local IPP Everywhere queue
//! on 127.0.0.1 (the OS prints to it driverless) analyses each job as it streams in
//! and seals it with the **site key** — Argon2id of the site password, which the
//! server never sees — into the agent's state directory. The server gets only the
//! metadata (name, pages, colour, owner), so the job shows in its owner's list
//! everywhere; on release the server orders this agent (long-poll) to deliver, and it
//! sends the job to the printer itself with the server's push code.

//!
//! Here: the local queue (`queue.rs`), the sealed store (`store.rs`) and the order
//! loop that delivers (`orders.rs`).

mod orders;
mod queue;
mod store;

pub use orders::deliver_orders;
pub use queue::{LocalQueue, serve};
pub use store::ParkedStore;

use super::AgentError;
use crate::vault::{MasterKey, local};

/// The site key (`vault::local::site_key`) from the password and the server's salt.
pub fn site_key(password: &str, site_salt_hex: &str) -> Result<MasterKey, AgentError> {
    let salt =
        hex::decode(site_salt_hex).map_err(|_| AgentError::Protocol("bad site salt".into()))?;
    local::site_key(password, &salt).map_err(|e| AgentError::Setup(e.to_string()))
}
