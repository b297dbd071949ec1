//! Admin page "E-mail" (`/admin/mail`): the mail relay (read-only when `[smtp]` is in
//! the settings file; the password is never shown again), and "Send a test message",
//! which answers what the relay did: sent, its refusal, a TLS failure, a time-out.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::config::SmtpSecurity;
use crate::identity::ClientInfo;
use crate::mail::settings::security_str;
use crate::mail::{PageSettings, SettingsView};
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, SignedForm, csrf_field};
use crate::web::flash::Flash;
use crate::web::views::{Page, redirect, render};

/// One choice of the security list.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/mail.html")]
struct MailPage {
    page: Page,
    view: SettingsView,
    securities: Vec<Choice>,
    /// The security in words (read-only view).
    security_label: &'static str,
    /// Where the test message goes (the admin's own address first).
    test_to: String,
}

#[derive(Deserialize, Default)]
pub struct SettingsInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    security: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    clear_password: Option<String>,
    #[serde(default)]
    from: String,
    #[serde(default)]
    ca_pem: String,
    #[serde(default)]
    timeout_secs: String,
}

#[derive(Deserialize)]
pub struct TestInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

csrf_field!(SettingsInput, TestInput);

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

const SECURITIES: [(SmtpSecurity, &str); 3] = [
    (SmtpSecurity::StartTls, "STARTTLS (usually port 587)"),
    (
        SmtpSecurity::Tls,
        "TLS from the first byte (usually port 465)",
    ),
    (
        SmtpSecurity::InsecurePlain,
        "Insecure: no TLS (a relay on this machine only)",
    ),
];

async fn mail_page(
    state: &AppState,
    who: &Admin,
    page: Page,
    typed: Option<SettingsInput>,
    test_to: Option<String>,
) -> Result<HttpResponse, PageError> {
    let mut view = state
        .services
        .mailer
        .view()
        .await
        .map_err(|e| PageError(Problem::from(e)))?;
    if let Some(t) = typed {
        // A refused form comes back as typed (never the password).
        view.host = t.host;
        view.username = t.username;
        view.from = t.from;
        view.ca_pem = t.ca_pem;
        if let Ok(port) = t.port.trim().parse() {
            view.port = port;
        }
        if let Ok(secs) = t.timeout_secs.trim().parse() {
            view.timeout_secs = secs;
        }
        if let Some(s) = crate::mail::settings::parse_security(&t.security) {
            view.security = s;
        }
    }
    let security_label = SECURITIES
        .iter()
        .find(|(s, _)| *s == view.security)
        .map(|(_, label)| *label)
        .unwrap_or_default();
    let securities = SECURITIES
        .iter()
        .map(|(s, label)| Choice {
            value: security_str(*s),
            label,
            selected: *s == view.security,
        })
        .collect();
    render(&MailPage {
        page,
        view,
        securities,
        security_label,
        test_to: test_to.unwrap_or_else(|| who.0.principal.user.email.clone()),
    })
}

fn title_page(state: &AppState, who: &Admin) -> Page {
    Page::for_user("E-mail", &state.services.identity, &who.0)
}

pub async fn page(
    state: web::Data<AppState>,
    who: Admin,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let flash = state.flash.take(&who.0.token, MAIL_PATH);
    let mut page = title_page(&state, &who).with_flash(flash.as_ref());
    if query.done.as_deref() == Some("saved") {
        page =
            page.with_notice("E-mail settings saved. A password is sealed and is not shown again.");
    }
    mail_page(&state, &who, page, None, None).await
}

pub async fn save(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<SettingsInput>,
) -> Result<HttpResponse, PageError> {
    let settings = PageSettings {
        host: form.host.clone(),
        port: form.port.clone(),
        security: form.security.clone(),
        username: form.username.clone(),
        password: form.password.clone(),
        clear_password: form.clear_password.is_some(),
        from: form.from.clone(),
        ca_pem: form.ca_pem.clone(),
        timeout_secs: form.timeout_secs.clone(),
    };
    let result = state
        .services
        .identity
        .save_mail_settings(
            &who.0.principal.user,
            &state.services.mailer,
            &settings,
            &client,
        )
        .await
        .map_err(Problem::from);
    match result {
        Ok(()) => Ok(redirect("/admin/mail?done=saved")),
        Err(problem) if problem.status.is_server_error() => Err(PageError(problem)),
        Err(problem) => {
            let page = title_page(&state, &who).with_error(problem.message);
            let typed = SettingsInput {
                password: String::new(),
                ..form
            };
            mail_page(&state, &who, page, Some(typed), None).await
        }
    }
}

pub async fn test(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<TestInput>,
) -> Result<HttpResponse, PageError> {
    let to = form.to.trim().to_owned();
    let outcome = state
        .services
        .identity
        .send_test_mail(&who.0.principal.user, &state.services.mailer, &to, &client)
        .await?;
    // Post/redirect/get: a refresh of the answer sends no second message.
    let flash = match outcome {
        Ok(()) => Flash::notice(format!("Test message sent to {to}: the relay accepted it.")),
        Err(e) => Flash::error(format!("Test message to {to} not sent: {e}")),
    };
    Ok(state.flash.redirect(&who.0.token, MAIL_PATH, flash))
}

/// Where the e-mail settings page lives (the test message redirects there).
const MAIL_PATH: &str = "/admin/mail";
