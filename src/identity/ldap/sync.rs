//! A sync: one at a time across every server (a database lease), a paged search of
//! the whole filter, the groups read, then the plan (`plan.rs`) applied a page at a
//! time, each page with its audit rows in one transaction. A search that fails or
//! ends early disables nobody: the plan is only made from a complete answer.
//! Counters are written as it goes (the admin page shows them while it runs).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use ldap3::adapters::PagedResults;
use ldap3::{Ldap, Scope, SearchEntry};

use super::plan::{self, DirectoryPerson, Groups, normalize_dn};
use super::settings::{DirectorySettings, person_filter};
use super::{Directory, LdapError, SkippedEntry, SyncReport, connect};
use crate::clock::now;
use crate::db::{DbError, LdapChange, LdapChangeAudit, LdapRunCounts};
use crate::identity::{AuditAction, AuditOutcome, ClientInfo, User};

const PAGE_SIZE: i32 = 500;
/// A sync holds the slot this long past its last sign of life (renewed every page).
const LEASE_SECS: i64 = 300;
/// Changes applied per transaction.
const BATCH: usize = 200;
/// Skipped entries kept per run (the report still counts them all).
const SKIPPED_KEPT: usize = 1000;
/// The same purpose as the station's badges, so a synced card opens the station.
const BADGE_PURPOSE: &str = "badge";

fn search_error(e: ldap3::LdapError, timeout: Duration) -> LdapError {
    match e {
        ldap3::LdapError::Timeout { .. } => LdapError::Timeout {
            step: "search",
            secs: timeout.as_secs(),
        },
        other => LdapError::Search(other.to_string()),
    }
}

/// A running sync's heartbeat during the search: every page, the entries read so
/// far (progress) and the lease renewed.
struct Heartbeat<'a> {
    db: &'a crate::db::Db,
    run: i64,
}

/// Runs a paged search to its end, handing each entry to `each`; fails unless the
/// directory says the whole answer was sent.
async fn paged_search(
    ldap: &mut Ldap,
    s: &DirectorySettings,
    filter: &str,
    attrs: Vec<String>,
    heartbeat: Option<Heartbeat<'_>>,
    mut each: impl FnMut(SearchEntry),
) -> Result<(), LdapError> {
    let mut read: i64 = 0;
    let mut stream = ldap
        .with_timeout(s.timeout)
        .streaming_search_with(
            PagedResults::new(PAGE_SIZE),
            &s.base_dn,
            Scope::Subtree,
            filter,
            attrs,
        )
        .await
        .map_err(|e| search_error(e, s.timeout))?;
    while let Some(entry) = stream
        .next()
        .await
        .map_err(|e| search_error(e, s.timeout))?
    {
        if entry.is_ref() || entry.is_intermediate() {
            continue;
        }
        each(SearchEntry::construct(entry));
        read += 1;
        if let Some(h) = &heartbeat
            && read % i64::from(PAGE_SIZE) == 0
        {
            let seen = LdapRunCounts {
                seen: read,
                ..LdapRunCounts::default()
            };
            h.db.ldap_sync_progress(h.run, seen).await?;
            h.db.renew_ldap_sync(h.run, now() + LEASE_SECS).await?;
        }
    }
    let end = stream.finish().await;
    if end.rc != 0 {
        return Err(LdapError::Search(format!(
            "the directory ended the search early: {end}"
        )));
    }
    Ok(())
}

/// How many entries the people filter finds (for "Test connection").
pub async fn count_people(ldap: &mut Ldap, s: &DirectorySettings) -> Result<u64, LdapError> {
    let mut n = 0u64;
    paged_search(ldap, s, &s.user_filter, vec!["1.1".into()], None, |_| {
        n += 1
    })
    .await?;
    Ok(n)
}

/// The DN of the person who signs in as `username`, if exactly one entry matches.
pub async fn find_dn(
    ldap: &mut Ldap,
    s: &DirectorySettings,
    username: &str,
) -> Result<Option<String>, LdapError> {
    let ldap3::SearchResult(entries, result) = ldap
        .with_timeout(s.timeout)
        .search(
            &s.base_dn,
            Scope::Subtree,
            &person_filter(s, username),
            vec!["1.1"],
        )
        .await
        .map_err(|e| search_error(e, s.timeout))?;
    if result.rc != 0 {
        return Err(LdapError::Search(result.to_string()));
    }
    let mut dns = entries
        .into_iter()
        .filter(|e| !e.is_ref() && !e.is_intermediate())
        .map(|e| SearchEntry::construct(e).dn);
    Ok(match (dns.next(), dns.next()) {
        (Some(dn), None) => Some(dn),
        _ => None,
    })
}

/// The members of each group, read from the group entries (`member`,
/// `uniqueMember`). A group that cannot be read fails the sync.
async fn read_groups(ldap: &mut Ldap, s: &DirectorySettings) -> Result<Groups, LdapError> {
    let mut groups = Groups {
        user_groups: s.user_groups.iter().map(|g| normalize_dn(g)).collect(),
        admin_groups: s.admin_groups.iter().map(|g| normalize_dn(g)).collect(),
        members: HashMap::new(),
    };
    for dn in s.user_groups.iter().chain(&s.admin_groups) {
        let ldap3::SearchResult(entries, result) = ldap
            .with_timeout(s.timeout)
            .search(
                dn,
                Scope::Base,
                "(objectClass=*)",
                vec!["member", "uniqueMember"],
            )
            .await
            .map_err(|e| search_error(e, s.timeout))?;
        if result.rc != 0 {
            return Err(LdapError::Search(format!("group {dn}: {result}")));
        }
        let members: HashSet<String> = entries
            .into_iter()
            .map(SearchEntry::construct)
            .flat_map(|e| e.attrs.into_iter())
            .filter(|(k, _)| {
                let k = k.to_lowercase();
                k == "member" || k == "uniquemember" || k.starts_with("member;range=")
            })
            .flat_map(|(_, v)| v)
            .map(|m: String| normalize_dn(&m))
            .collect();
        groups.members.insert(normalize_dn(dn), members);
    }
    Ok(groups)
}

impl Directory {
    /// Runs one sync to its end (refused while another runs on any server).
    pub async fn sync_now(
        &self,
        actor: Option<&User>,
        client: &ClientInfo,
    ) -> Result<SyncReport, LdapError> {
        let s = self.configured().await?;
        super::settings::check(&s)?;
        let trigger = if actor.is_some() { "admin" } else { "schedule" };
        let run = self
            .db()
            .claim_ldap_sync(trigger, now() + LEASE_SECS, None)
            .await?
            .ok_or(LdapError::Busy)?;
        self.run(run, &s, actor, client).await
    }

    /// Starts a sync in the background for the admin page (which shows its progress);
    /// the handle lets the page wait a moment for a small directory to finish.
    pub async fn start_sync(
        &self,
        actor: &User,
        client: &ClientInfo,
    ) -> Result<tokio::task::JoinHandle<()>, LdapError> {
        crate::identity::people::require_admin(actor)?;
        let s = self.configured().await?;
        super::settings::check(&s)?;
        let run = self
            .db()
            .claim_ldap_sync("admin", now() + LEASE_SECS, None)
            .await?
            .ok_or(LdapError::Busy)?;
        let (me, actor, client) = (self.clone(), actor.clone(), client.clone());
        Ok(tokio::spawn(async move {
            if let Err(e) = me.run(run, &s, Some(&actor), &client).await {
                tracing::warn!(error = %e, "directory sync failed");
            }
        }))
    }

    /// The scheduled sync: checks every minute whether one is due (`sync_interval_minutes`
    /// since the last one started, on any server) and runs it. Never returns.
    pub async fn run_schedule(self) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            let s = match self.settings().await {
                Ok(Some(s)) if s.sync_interval_minutes > 0 => s,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "directory settings unreadable; no scheduled sync");
                    continue;
                }
            };
            let interval = i64::try_from(s.sync_interval_minutes * 60).unwrap_or(i64::MAX);
            let due_before = now().saturating_sub(interval).saturating_add(1);
            let run = match self
                .db()
                .claim_ldap_sync("schedule", now() + LEASE_SECS, Some(due_before))
                .await
            {
                Ok(Some(run)) => run,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "directory sync not claimed; will retry");
                    continue;
                }
            };
            if let Err(e) = self.run(run, &s, None, &ClientInfo::default()).await {
                tracing::warn!(error = %e, "scheduled directory sync failed");
            }
        }
    }

    /// One claimed run, to its end; the run row says how it ended.
    async fn run(
        &self,
        run: i64,
        s: &DirectorySettings,
        actor: Option<&User>,
        client: &ClientInfo,
    ) -> Result<SyncReport, LdapError> {
        let started = format!(
            "run {run} ({})",
            if actor.is_some() { "admin" } else { "schedule" }
        );
        self.audit(
            actor,
            AuditAction::DirectorySyncStart,
            AuditOutcome::Success,
            client,
            &started,
        )
        .await?;
        let mut counts = LdapRunCounts::default();
        let result = self.run_inner(run, s, actor, client, &mut counts).await;
        let (state, error) = match &result {
            Ok(_) => ("done", String::new()),
            Err(e) => ("failed", e.to_string()),
        };
        self.db()
            .finish_ldap_sync(run, state, counts, &error)
            .await?;
        let detail = match &result {
            Ok(r) => format!(
                "run {run}: {} created, {} updated, {} disabled, {} unchanged, {} skipped",
                r.created,
                r.updated,
                r.disabled,
                r.unchanged,
                r.skipped.len()
            ),
            Err(e) => format!("run {run} failed, nobody disabled: {e}"),
        };
        let outcome = if result.is_ok() {
            AuditOutcome::Success
        } else {
            AuditOutcome::Failure
        };
        self.audit(
            actor,
            AuditAction::DirectorySyncFinish,
            outcome,
            client,
            &detail,
        )
        .await?;
        result
    }

    async fn run_inner(
        &self,
        run: i64,
        s: &DirectorySettings,
        actor: Option<&User>,
        client: &ClientInfo,
        counts: &mut LdapRunCounts,
    ) -> Result<SyncReport, LdapError> {
        let mut ldap = connect::open_as_service(s).await?;
        let groups = read_groups(&mut ldap, s).await?;
        let a = &s.attributes;
        let attrs: Vec<String> = [
            a.username.as_str(),
            &a.email,
            &a.name,
            &a.department,
            &a.card,
            &a.unique_id,
            "memberOf",
            "userAccountControl",
        ]
        .iter()
        .map(|n| n.to_string())
        .collect();
        let mut people: Vec<DirectoryPerson> = Vec::new();
        let mut skipped: Vec<SkippedEntry> = Vec::new();
        paged_search(
            &mut ldap,
            s,
            &s.user_filter,
            attrs,
            Some(Heartbeat { db: self.db(), run }),
            |entry| match plan::read_entry(&entry, a) {
                Ok(p) => people.push(p),
                Err(skip) if groups.admits_entry(&entry) => skipped.push(skip),
                // Outside the groups: not a person of ours, not worth a line.
                Err(_) => {}
            },
        )
        .await?;
        let _ = ldap.unbind().await;
        counts.seen = (people.len() + skipped.len()) as i64;
        self.db().ldap_sync_progress(run, *counts).await?;
        self.db().renew_ldap_sync(run, now() + LEASE_SECS).await?;

        let existing = self.db().ldap_people().await?;
        let taken: HashSet<String> = self
            .db()
            .non_ldap_logins()
            .await?
            .into_iter()
            .flat_map(|(u, e)| [u, e])
            .collect();
        let vault = self.vault().clone();
        let mut planned = plan::plan(people, existing, &taken, &groups, |card| {
            vault.keyed_hash(BADGE_PURPOSE, card.as_bytes())
        });
        skipped.append(&mut planned.skipped);
        counts.unchanged = planned.unchanged as i64;
        counts.skipped = skipped.len() as i64;
        let mut report = SyncReport {
            unchanged: planned.unchanged,
            ..SyncReport::default()
        };
        for chunk in planned.changes.chunks(BATCH) {
            let audited: Vec<_> = chunk
                .iter()
                .map(|c| (c.clone(), Some(self.change_audit(c, actor, client))))
                .collect();
            match self.db().apply_ldap_changes(&audited).await {
                Ok(()) => chunk.iter().for_each(|c| tally(c, &mut report)),
                // Someone took a username meanwhile: the page again, one by one.
                Err(DbError::Conflict(_)) => {
                    for one in audited {
                        match self
                            .db()
                            .apply_ldap_changes(std::slice::from_ref(&one))
                            .await
                        {
                            Ok(()) => tally(&one.0, &mut report),
                            Err(DbError::Conflict(what)) => skipped.push(SkippedEntry {
                                entry: change_name(&one.0),
                                reason: format!("already taken in PrintPark ({what})"),
                            }),
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
            counts.created = report.created as i64;
            counts.updated = report.updated as i64;
            counts.disabled = report.disabled as i64;
            counts.skipped = skipped.len() as i64;
            self.db().ldap_sync_progress(run, *counts).await?;
            self.db().renew_ldap_sync(run, now() + LEASE_SECS).await?;
        }
        for skip in skipped.iter().take(SKIPPED_KEPT) {
            self.db()
                .add_ldap_skipped(run, &skip.entry, &skip.reason)
                .await?;
        }
        report.skipped = skipped;
        if report.created + report.updated + report.disabled > 0 {
            // Roles or people changed: a remembered bind must be proven again.
            self.identity.ldap.forget();
        }
        Ok(report)
    }

    fn change_audit(
        &self,
        change: &LdapChange,
        actor: Option<&User>,
        client: &ClientInfo,
    ) -> LdapChangeAudit {
        let (action, target, detail) = match change {
            LdapChange::Create(f) => (
                AuditAction::DirectoryUserCreate,
                f.username.clone(),
                f.role.clone(),
            ),
            LdapChange::Update { fields, .. } => (
                AuditAction::DirectoryUserUpdate,
                fields.username.clone(),
                fields.role.clone(),
            ),
            LdapChange::Disable { username, .. } => (
                AuditAction::DirectoryUserDisable,
                username.clone(),
                "no longer in the directory or its groups".into(),
            ),
        };
        LdapChangeAudit {
            actor_id: actor.map(|u| u.id),
            actor: actor
                .map(|u| u.username.clone())
                .unwrap_or_else(|| "system".into()),
            action: action.as_str(),
            target,
            client_addr: client.addr.clone(),
            detail,
        }
    }
}

fn tally(change: &LdapChange, report: &mut SyncReport) {
    match change {
        LdapChange::Create(_) => report.created += 1,
        LdapChange::Update { .. } => report.updated += 1,
        LdapChange::Disable { .. } => report.disabled += 1,
    }
}

fn change_name(change: &LdapChange) -> String {
    match change {
        LdapChange::Create(f) | LdapChange::Update { fields: f, .. } => f.dn.clone(),
        LdapChange::Disable { username, .. } => username.clone(),
    }
}
