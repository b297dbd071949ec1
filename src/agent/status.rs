//! `printpark agent status`: what the running agent last wrote to its state file —
//! enrolment, last contact, printers and jobs under way — and exit 1 when it is
//! unhealthy, for `docker`/systemd health checks.

use super::AgentError;
use super::state::AgentState;
use crate::release::{AgentAssignment, AgentHealth};

/// `agent status` fails (exit 1) when the last contact is older than this.
const STATUS_SILENT_SECS: i64 = 120;

pub(super) async fn status(state: &AgentState) -> Result<(), AgentError> {
    let Some(enrolment) = state.enrolment().await? else {
        return Err(AgentError::Setup(
            "not enrolled (run: printpark agent --server https://… --enrol CODE)".into(),
        ));
    };
    println!("server:        {}", enrolment.server);
    println!("agent login:   {}", enrolment.login);
    println!("server cert:   sha256 {}", enrolment.pin);
    let last = state
        .get("last_contact")
        .await?
        .and_then(|t| t.parse::<i64>().ok());
    match last {
        Some(at) => println!("last contact:  {} s ago", (crate::clock::now() - at).max(0)),
        None => println!("last contact:  never"),
    }
    let last_error = state.get("last_error").await?.filter(|e| !e.is_empty());
    if let Some(error) = &last_error {
        println!("last error:    {error}");
    }
    let health: AgentHealth = state
        .get("health")
        .await?
        .and_then(|h| serde_json::from_str(&h).ok())
        .unwrap_or_default();
    let assignment: Option<AgentAssignment> = state
        .get("assignment")
        .await?
        .and_then(|a| serde_json::from_str(&a).ok());
    let printers = assignment.map(|a| a.printers).unwrap_or_default();
    if !health.site_key_id.is_empty() {
        // The admin compares it with the id the Agents page shows before approving.
        println!("site key id:   {}", health.site_key_id);
    }
    println!("printers:      {}", printers.len());
    for printer in &printers {
        let h = health.printers.iter().find(|h| h.guid == printer.guid);
        println!(
            "  {} ({}): {}{}, {} delivered",
            printer.name,
            printer.uri,
            h.map_or("starting", |h| h.state.as_str()),
            h.and_then(|h| h.last_error.as_deref())
                .map(|e| format!(" — {e}"))
                .unwrap_or_default(),
            h.map_or(0, |h| h.delivered),
        );
    }
    let jobs = state.all_deliveries().await?;
    let silent = last.is_none_or(|at| crate::clock::now() - at > STATUS_SILENT_SECS);
    println!("jobs under way: {}", jobs.len());
    for job in jobs {
        println!(
            "  job {} ({}), since {} s",
            job.job_id,
            job.phase,
            (crate::clock::now() - job.updated_at).max(0)
        );
    }
    if silent {
        // Unhealthy for `docker`/systemd checks: not approved, revoked, or cut off.
        let why = last_error.unwrap_or_else(|| {
            format!("no contact with the server for more than {STATUS_SILENT_SECS} s")
        });
        return Err(AgentError::Setup(format!("unhealthy: {why}")));
    }
    Ok(())
}
