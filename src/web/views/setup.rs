//! First run: the page that creates the first admin — only with the setup code the
//! server printed at start, and only once — and shows the generated master key once,
//! with the warning to back it up. It also asks for the public address people will
//! use (issue 20), proposing the machine's host name and LAN addresses; the settings'
//! `server.public_url`, when set, is shown instead and wins.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Page, presession, redirect, render};
use crate::identity::ClientInfo;
use crate::identity::{CsrfBinding, IdentityError, NewUserRequest};
use crate::vault::master;
use crate::web::AppState;
use crate::web::auth::{presession_cookie, session_cookie};
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AnonymousForm, csrf_field};

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    page: Page,
    master_key: Option<Zeroizing<String>>,
    form: SetupForm,
    /// Issue 20: the public address field (current value, proposals, settings' value).
    address: crate::web::views::admin::address::AddressView,
}

#[derive(Deserialize, Default)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
    /// The code from the server's log or `<data_dir>/setup-code`; never shown back.
    #[serde(default)]
    setup_code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
    #[serde(default)]
    key_saved: Option<String>,
    /// The public address people use (`https://name:port`); ignored when the
    /// settings' `server.public_url` sets it.
    #[serde(default)]
    pub public_address: String,
}

csrf_field!(SetupForm);

async fn show(
    req: &HttpRequest,
    state: &AppState,
    form: SetupForm,
    problem: Option<Problem>,
) -> Result<HttpResponse, PageError> {
    let (pre, fresh) = presession(req);
    let mut page = Page::bare("Set up PrintPark");
    page.csrf = state
        .services
        .identity
        .csrf_token(CsrfBinding::PreSession(&pre));
    page.error = problem.as_ref().map(|p| p.message.clone());
    let master_key =
        master::key_pending_backup(&state.services.db, &state.services.settings).await?;
    let mut address = crate::web::views::admin::address::AddressView::of(state);
    if !form.public_address.trim().is_empty() {
        // What was typed comes back after a mistake elsewhere in the form.
        address.proposals.retain(|p| *p != form.public_address);
        address.proposals.insert(0, form.public_address.clone());
        address.current = None;
    }
    let mut response = render(&SetupPage {
        page,
        master_key,
        address,
        form: SetupForm {
            setup_code: String::new(),
            password: String::new(),
            password_again: String::new(),
            ..form
        },
    })?;
    if let Some(problem) = &problem {
        *response.status_mut() = problem.status;
        if let Some(secs) = problem.retry_after {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, secs.into());
        }
    }
    if fresh {
        response.add_cookie(&presession_cookie(&pre)).ok();
    }
    Ok(response)
}

/// A mistake in the form: shown on the page with the form's status.
fn form_problem(status: StatusCode, message: impl Into<String>) -> Option<Problem> {
    Some(Problem::new(status, "invalid", message))
}

pub async fn setup_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if !state.services.identity.setup_open().await? {
        return Ok(redirect("/login"));
    }
    show(&req, &state, SetupForm::default(), None).await
}

pub async fn setup_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    AnonymousForm(form): AnonymousForm<SetupForm>,
) -> Result<HttpResponse, PageError> {
    let identity = &state.services.identity;
    if !identity.setup_open().await? {
        return Ok(redirect("/login"));
    }
    // The code first: without it, nothing else about the form is looked at.
    if let Err(e) = identity.check_setup_code(&form.setup_code, &client).await {
        let problem = match e {
            IdentityError::Invalid { .. } => Problem {
                status: StatusCode::FORBIDDEN,
                ..Problem::from(e)
            },
            other => Problem::from(other),
        };
        if problem.status.is_server_error() {
            return Err(PageError(problem));
        }
        return show(&req, &state, form, Some(problem)).await;
    }
    let pending_key =
        master::key_pending_backup(&state.services.db, &state.services.settings).await?;
    if pending_key.is_some() && form.key_saved.is_none() {
        let problem = form_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Confirm that you stored the master key somewhere safe.",
        );
        return show(&req, &state, form, problem).await;
    }
    // The address is checked before anything is created, so a typo costs nothing.
    // Left empty (a script, or an admin who will decide later), it is simply not set
    // yet: the dashboard, labels and agents pages then ask for it.
    let typed = !form.public_address.trim().is_empty()
        && state.services.site.source() != crate::site::AddressSource::Settings;
    if typed && let Err(e) = crate::config::PublicAddress::parse(&form.public_address) {
        let problem = form_problem(StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
        return show(&req, &state, form, problem).await;
    }
    if form.password != form.password_again {
        let problem = form_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The two passwords differ.",
        );
        return show(&req, &state, form, problem).await;
    }
    let request = NewUserRequest {
        username: form.username.clone(),
        email: form.email.clone(),
        name: form.name.clone(),
        department: String::new(),
        admin: true,
        password: Some(form.password.clone()),
    };
    let admin = match identity
        .complete_first_run(&request, &form.setup_code, &client)
        .await
    {
        Ok(admin) => admin,
        // Someone else completed it a moment ago: the page is gone.
        Err(IdentityError::Forbidden) => return Ok(redirect("/login")),
        Err(e) => {
            let problem = Problem::from(e);
            if problem.status.is_server_error() {
                return Err(PageError(problem));
            }
            return show(&req, &state, form, Some(problem)).await;
        }
    };
    if typed {
        // Checked above; a failure here (the database) leaves the admin made and the
        // address to set in Admin → Settings, which the dashboard then asks for.
        if let Err(e) = state
            .services
            .site
            .set(&form.public_address, &admin, &client)
            .await
        {
            tracing::warn!(error = %e, "the public address from the first-run page was not saved");
        }
    }
    crate::services::forget_setup_code(&state.services.settings);
    if pending_key.is_some() {
        master::confirm_backup(&state.services.db).await?;
    }
    let (_, token) = identity
        .login(&request.username, &form.password, &client)
        .await?;
    let mut response = redirect("/admin");
    response.add_cookie(&session_cookie(&token)).ok();
    Ok(response)
}
