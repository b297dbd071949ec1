//! Admin page for the organisation's directory (LDAP / Active Directory): its settings
//! (read-only when `[ldap]` is set in the settings file; the bind password is never
//! shown), "Test connection" (which step failed: TCP, TLS, bind, search; how many
//! people the filter finds), "Sync now" with the running sync's progress (the page
//! reloads itself while it runs) and the last syncs with what they skipped and why.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::db::LdapSyncRunRow;
use crate::identity::ldap::{LdapError, SettingsForm, SkippedEntry, admin::describe};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome, ClientInfo};
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, CsrfOnly, SignedForm, csrf_field};
use crate::web::views::{Page, redirect, render, when};

/// How long "Sync now" waits for the sync to end before showing its progress.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A sync run, ready to lay out.
#[derive(Clone)]
pub struct RunLine {
    pub id: i64,
    pub started: String,
    pub trigger: String,
    pub state: String,
    pub state_class: &'static str,
    pub seen: i64,
    pub created: i64,
    pub updated: i64,
    pub disabled: i64,
    pub unchanged: i64,
    pub skipped: i64,
    pub error: String,
}

impl From<LdapSyncRunRow> for RunLine {
    fn from(r: LdapSyncRunRow) -> Self {
        Self {
            id: r.id,
            started: when(r.started_at),
            trigger: r.trigger_source,
            state_class: match r.state.as_str() {
                "done" => "ok",
                "running" => "warn",
                _ => "bad",
            },
            state: r.state,
            seen: r.seen,
            created: r.created,
            updated: r.updated,
            disabled: r.disabled,
            unchanged: r.unchanged,
            skipped: r.skipped,
            error: r.error,
        }
    }
}

/// The answer of "Test connection": each step and how it went.
pub struct TestLine {
    pub step: &'static str,
    pub ok: bool,
    pub text: String,
}

#[derive(Template)]
#[template(path = "admin/directory.html")]
struct DirectoryPage {
    page: Page,
    /// Set in the settings file: shown read-only.
    from_file: Vec<(&'static str, String)>,
    read_only: bool,
    form: DirectoryInput,
    password_stored: bool,
    test: Vec<TestLine>,
    running: Option<RunLine>,
    runs: Vec<RunLine>,
    skipped: Vec<SkippedEntry>,
}

/// The settings form as posted (the password is never echoed back).
#[derive(Deserialize, Default)]
pub struct DirectoryInput {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub security: String,
    #[serde(default)]
    pub ca_pem: String,
    #[serde(default)]
    pub pinned_sha256: String,
    #[serde(default)]
    pub bind_dn: String,
    #[serde(default)]
    pub bind_password: String,
    #[serde(default)]
    pub base_dn: String,
    #[serde(default)]
    pub user_filter: String,
    #[serde(default)]
    pub preset: String,
    #[serde(default)]
    pub attr_username: String,
    #[serde(default)]
    pub attr_email: String,
    #[serde(default)]
    pub attr_name: String,
    #[serde(default)]
    pub attr_department: String,
    #[serde(default)]
    pub attr_card: String,
    #[serde(default)]
    pub attr_unique_id: String,
    #[serde(default)]
    pub user_groups: String,
    #[serde(default)]
    pub admin_groups: String,
    #[serde(default)]
    pub sync_interval_minutes: String,
    #[serde(default)]
    pub timeout_secs: String,
}

csrf_field!(DirectoryInput);

impl DirectoryInput {
    fn of(f: SettingsForm) -> Self {
        Self {
            csrf: String::new(),
            url: f.url,
            security: f.security,
            ca_pem: f.ca_pem,
            pinned_sha256: f.pinned_sha256,
            bind_dn: f.bind_dn,
            bind_password: String::new(),
            base_dn: f.base_dn,
            user_filter: f.user_filter,
            preset: f.preset,
            attr_username: f.attr_username,
            attr_email: f.attr_email,
            attr_name: f.attr_name,
            attr_department: f.attr_department,
            attr_card: f.attr_card,
            attr_unique_id: f.attr_unique_id,
            user_groups: f.user_groups,
            admin_groups: f.admin_groups,
            sync_interval_minutes: f.sync_interval_minutes,
            timeout_secs: f.timeout_secs,
        }
    }

    /// The form for the service; the password moves (and is wiped after use).
    fn take(&mut self) -> SettingsForm {
        SettingsForm {
            url: self.url.clone(),
            security: self.security.clone(),
            ca_pem: self.ca_pem.clone(),
            pinned_sha256: self.pinned_sha256.clone(),
            bind_dn: self.bind_dn.clone(),
            bind_password: Zeroizing::new(std::mem::take(&mut self.bind_password)),
            base_dn: self.base_dn.clone(),
            user_filter: self.user_filter.clone(),
            preset: self.preset.clone(),
            attr_username: self.attr_username.clone(),
            attr_email: self.attr_email.clone(),
            attr_name: self.attr_name.clone(),
            attr_department: self.attr_department.clone(),
            attr_card: self.attr_card.clone(),
            attr_unique_id: self.attr_unique_id.clone(),
            user_groups: self.user_groups.clone(),
            admin_groups: self.admin_groups.clone(),
            sync_interval_minutes: self.sync_interval_minutes.clone(),
            timeout_secs: self.timeout_secs.clone(),
        }
    }
}

async fn directory_page(
    state: &AppState,
    page: Page,
    typed: Option<DirectoryInput>,
    test: Vec<TestLine>,
) -> Result<HttpResponse, PageError> {
    let d = &state.services.directory;
    let read_only = d.set_in_file();
    let from_file = if read_only {
        d.settings()
            .await?
            .map(|s| describe(&s))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let stored = d.page_settings().await?;
    let password_stored = stored.bind_password_sealed.is_some();
    let form = typed.unwrap_or_else(|| DirectoryInput::of(SettingsForm::of(&stored)));
    let runs: Vec<RunLine> = d.runs(10).await?.into_iter().map(RunLine::from).collect();
    let running = runs.iter().find(|r| r.state == "running").cloned();
    let skipped = match runs.iter().find(|r| r.state != "running") {
        Some(last) => d.skipped_of(last.id, 200).await?,
        None => Vec::new(),
    };
    render(&DirectoryPage {
        page,
        from_file,
        read_only,
        form,
        password_stored,
        test,
        running,
        runs,
        skipped,
    })
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn title_page(state: &AppState, who: &Admin) -> Page {
    Page::for_user("Directory", &state.services.identity, &who.0)
}

/// `GET /admin/directory`.
pub async fn page(
    state: web::Data<AppState>,
    who: Admin,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let mut page = title_page(&state, &who);
    // A fixed sentence per value, so the query cannot put text on the page.
    match query.done.as_deref() {
        Some("saved") => {
            page = page.with_notice(
                "Directory settings saved. The bind password is sealed and not shown again.",
            )
        }
        Some("sync") => page = page.with_notice("Sync started; its result is below."),
        _ => {}
    }
    directory_page(&state, page, None, Vec::new()).await
}

/// `POST /admin/directory`: save the settings.
pub async fn save(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, mut form }: AdminForm<DirectoryInput>,
) -> Result<HttpResponse, PageError> {
    let settings = form.take();
    let result = state
        .services
        .directory
        .save_settings(&who.0.principal.user, &settings, &client)
        .await;
    match result.map_err(Problem::from) {
        Ok(()) => Ok(redirect("/admin/directory?done=saved")),
        Err(problem) if problem.status.is_server_error() => Err(PageError(problem)),
        Err(problem) => {
            let page = title_page(&state, &who).with_error(problem.message);
            directory_page(&state, page, Some(form), Vec::new()).await
        }
    }
}

/// `POST /admin/directory/test`: connect, bind, count; the answer names the step.
pub async fn test(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let d = &state.services.directory;
    let result = d.test_connection().await;
    let tls = d
        .settings()
        .await?
        .is_some_and(|s| s.security != crate::config::LdapSecurity::InsecurePlain);
    let steps = test_lines(&result, tls);
    let (outcome, detail) = match &result {
        Ok(n) => (AuditOutcome::Success, format!("{n} people found")),
        Err(e) => (AuditOutcome::Failure, e.to_string()),
    };
    state
        .services
        .identity
        .audit(AuditEvent {
            actor: Some(&who.0.principal.user),
            action: AuditAction::DirectoryTest,
            target: "directory",
            outcome,
            client: &client,
            detail: &detail,
        })
        .await?;
    let page = match &result {
        Ok(n) => title_page(&state, &who).with_notice(format!(
            "The directory answered: the filter finds {n} people."
        )),
        Err(e) => title_page(&state, &who).with_error(format!("Test failed at {}: {e}", e.step())),
    };
    directory_page(&state, page, None, steps).await
}

/// Each step of a connection test, up to the one that failed.
fn test_lines(result: &Result<u64, LdapError>, tls: bool) -> Vec<TestLine> {
    let mut steps: Vec<&'static str> = vec!["TCP"];
    if tls {
        steps.push("TLS");
    }
    steps.extend(["bind", "search"]);
    let failed = result.as_ref().err().map(|e| match e.step() {
        "TCP connect" => "TCP",
        "TLS handshake" | "connect" => {
            if tls {
                "TLS"
            } else {
                "TCP"
            }
        }
        other => other,
    });
    let mut lines = Vec::new();
    for step in steps {
        match (failed, result) {
            (Some(f), Err(e)) if f == step || !["TCP", "TLS", "bind", "search"].contains(&f) => {
                lines.push(TestLine {
                    step,
                    ok: false,
                    text: e.to_string(),
                });
                break;
            }
            (_, Ok(n)) if step == "search" => lines.push(TestLine {
                step,
                ok: true,
                text: format!("the filter finds {n} people"),
            }),
            _ => lines.push(TestLine {
                step,
                ok: true,
                text: "ok".into(),
            }),
        }
    }
    lines
}

/// `POST /admin/directory/sync`: starts a sync; the page shows its progress.
pub async fn sync(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let result = state
        .services
        .directory
        .start_sync(&who.0.principal.user, &client)
        .await;
    match result.map_err(Problem::from) {
        Ok(running) => {
            // A small directory is done in a moment: the page then shows the result
            // at once; a large one goes on while the page shows its progress.
            let _ = tokio::time::timeout(SYNC_WAIT, running).await;
            Ok(redirect("/admin/directory?done=sync"))
        }
        Err(problem) if problem.status.is_server_error() => Err(PageError(problem)),
        Err(problem) => {
            let page = title_page(&state, &who).with_error(problem.message);
            directory_page(&state, page, None, Vec::new()).await
        }
    }
}
