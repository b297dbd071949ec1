//! Admin pages for people: the user list, new users, holds, roles, deletion; one
//! person's page (`users/edit.rs`) and the CSV import (`users/import.rs`).

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::identity::ClientInfo;
use crate::identity::{NewUserRequest, User, UserUpdate};
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, CsrfOnly, SignedForm, csrf_field};
use crate::web::flash::Flash;
use crate::web::views::{Page, render};

/// Where every form of the list answers to (post/redirect/get, issue 20).
const USERS_PATH: &str = "/admin/users";

pub mod edit;
pub mod import;

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    page: Page,
    default_hold: u64,
    users: Vec<User>,
    /// A PIN just reset: (username, PIN), shown this once.
    new_pin: Option<(String, String)>,
    /// The admin looking: their own row offers no Disable or Delete (the server
    /// refuses both).
    me: i64,
}

/// `GET /admin/users`: the list, with what the last form left to say (a new PIN is
/// shown by this GET once; a refresh shows the list alone and makes nothing).
pub async fn users(state: web::Data<AppState>, who: Admin) -> Result<HttpResponse, PageError> {
    let flash = state.flash.take(&who.0.token, USERS_PATH);
    let users = state.services.identity.list_users().await?;
    render(&UsersPage {
        default_hold: state.services.settings.queue.hold_hours,
        page: Page::for_user("Users", &state.services.identity, &who.0).with_flash(flash.as_ref()),
        users,
        new_pin: flash.and_then(|f| f.secret),
        me: who.0.principal.user.id,
    })
}

#[derive(Deserialize)]
pub struct CreateUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    admin: Option<String>,
}

csrf_field!(CreateUserForm);

/// Back to the users page, which says how the change went.
fn outcome(
    state: &AppState,
    who: &Admin,
    result: Result<String, Problem>,
) -> Result<HttpResponse, PageError> {
    Ok(state
        .flash
        .redirect(&who.0.token, USERS_PATH, Flash::outcome(result)?))
}

pub async fn create_user(
    state: web::Data<AppState>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<CreateUserForm>,
) -> Result<HttpResponse, PageError> {
    let request = NewUserRequest {
        username: form.username,
        email: form.email,
        name: form.name,
        department: form.department,
        admin: form.admin.is_some(),
        password: (!form.password.is_empty()).then_some(form.password),
    };
    let result = state
        .services
        .identity
        .create_user(Some(&who.0.principal.user), &request, &client)
        .await;
    outcome(
        &state,
        &who,
        result
            .map(|u| format!("User {} created.", u.username))
            .map_err(Problem::from),
    )
}

#[derive(Deserialize)]
pub struct HoldForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    hours: String,
}

csrf_field!(HoldForm);

/// Sets how long one user's jobs are held (empty = the queue default).
pub async fn set_hold(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<HoldForm>,
) -> Result<HttpResponse, PageError> {
    let hours = match form.hours.trim() {
        "" => Ok(None),
        text => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Problem::bad_request("Hold hours must be a whole number.")),
    };
    let result = match hours {
        Ok(hours) => state
            .services
            .identity
            .set_hold_hours(&who.0.principal.user, path.into_inner(), hours, &client)
            .await
            .map(|u| {
                format!(
                    "Jobs of {} are now held {}.",
                    u.username,
                    u.hold_hours
                        .map(|h| format!("{h} h"))
                        .unwrap_or_else(|| "for the default time".into())
                )
            })
            .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    outcome(&state, &who, result)
}

pub async fn user_action(
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let (id, action) = path.into_inner();
    let s = &state.services;
    let actor = &who.0.principal.user;
    let result: Result<String, Problem> = match action.as_str() {
        "disable" => s
            .identity
            .update_user(actor, id, UserUpdate::Disable, &client)
            .await
            .map(|u| format!("{} disabled; their sessions were ended.", u.username))
            .map_err(Problem::from),
        "enable" => s
            .identity
            .update_user(actor, id, UserUpdate::Enable, &client)
            .await
            .map(|u| format!("{} enabled.", u.username))
            .map_err(Problem::from),
        "delete" => s
            .jobs
            .delete_user_with_jobs(actor, id, &client)
            .await
            .map(|n| format!("User deleted with {n} held job(s)."))
            .map_err(Problem::from),
        "reset-pin" => match s.identity.reset_pin(actor, id, &client).await {
            Ok(pin) => {
                // The PIN waits in memory for the GET that follows, never in the URL.
                let target = s.identity.user(id).await?;
                let flash = Flash {
                    secret: Some((target.username, pin)),
                    ..Flash::default()
                };
                return Ok(state.flash.redirect(&who.0.token, USERS_PATH, flash));
            }
            Err(e) => Err(e.into()),
        },
        _ => Err(Problem::not_found()),
    };
    outcome(&state, &who, result)
}

#[derive(Template)]
#[template(path = "admin/confirm_delete.html")]
struct ConfirmDeletePage {
    page: Page,
    target: User,
    held_jobs: usize,
}

/// Deleting is final: the delete button leads here first (no JavaScript needed).
pub async fn confirm_delete(
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let s = &state.services;
    let target = s.identity.user(path.into_inner()).await?;
    let held_jobs = s.jobs.held_jobs_of(&target).await?.len();
    let page = Page::for_user("Delete user", &s.identity, &who.0);
    render(&ConfirmDeletePage {
        page,
        target,
        held_jobs,
    })
}
