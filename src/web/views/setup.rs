//! First run: the page that creates the first admin and shows the generated master
//! key once, with the warning to back it up.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Page, redirect, render};
use crate::identity::{CsrfBinding, NewUserRequest};
use crate::vault::master;
use crate::web::AppState;
use crate::web::auth::{
    PRESESSION_COOKIE, check_form, client_info, presession_cookie, session_cookie,
};
use crate::web::error::PageError;

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    page: Page,
    master_key: Option<Zeroizing<String>>,
    form: SetupForm,
}

#[derive(Deserialize, Default)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
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
}

/// The pre-session cookie value of this browser, made if it has none yet.
pub fn presession(req: &HttpRequest) -> (String, bool) {
    match req.cookie(PRESESSION_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_owned(), false),
        _ => (crate::identity::secrets::new_token(), true),
    }
}

async fn show(
    req: &HttpRequest,
    state: &AppState,
    form: SetupForm,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (pre, fresh) = presession(req);
    let mut page = Page::bare("Set up PrintPark");
    page.csrf = state
        .services
        .identity
        .csrf_token(CsrfBinding::PreSession(&pre));
    page.error = error;
    let master_key =
        master::key_pending_backup(&state.services.db, &state.services.settings).await?;
    let mut response = render(&SetupPage {
        page,
        master_key,
        form,
    })?;
    if fresh {
        response.add_cookie(&presession_cookie(&pre)).ok();
    }
    Ok(response)
}

pub async fn setup_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if !state.services.identity.needs_first_admin().await? {
        return Ok(redirect("/login"));
    }
    show(&req, &state, SetupForm::default(), None).await
}

pub async fn setup_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, PageError> {
    check_form(&req, &state, &form.csrf)?;
    let identity = &state.services.identity;
    if !identity.needs_first_admin().await? {
        return Ok(redirect("/login"));
    }
    let form = form.into_inner();
    let pending_key =
        master::key_pending_backup(&state.services.db, &state.services.settings).await?;
    if pending_key.is_some() && form.key_saved.is_none() {
        return show(
            &req,
            &state,
            form,
            Some("Confirm that you stored the master key somewhere safe.".into()),
        )
        .await;
    }
    if form.password != form.password_again {
        return show(&req, &state, form, Some("The two passwords differ.".into())).await;
    }
    let client = client_info(&req);
    let request = NewUserRequest {
        username: form.username.clone(),
        email: form.email.clone(),
        name: form.name.clone(),
        department: String::new(),
        admin: true,
        password: Some(form.password.clone()),
    };
    if let Err(e) = identity.create_first_admin(&request, &client).await {
        let problem = crate::web::error::Problem::from(e);
        return show(&req, &state, form, Some(problem.message)).await;
    }
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
