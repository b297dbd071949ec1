//! The admin page of one person (`/admin/users/{id}`): edit the fields, role and hold
//! time; link and unlink cards; reset the password. A refused edit shows the form
//! again as it was typed; every change that went through answers with a redirect to
//! the page, whose GET says how it went once (issue 20: a refresh repeats nothing,
//! a temporary password is shown once). For directory people the directory's fields
//! are read-only.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::identity::{ClientInfo, User, UserEdit, UserSource};
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::extract::{AdminForm, CsrfOnly, SignedForm, csrf_field};
use crate::web::flash::Flash;
use crate::web::views::{Page, render, when};

/// The person's page, where each of its forms answers to.
fn user_path(id: i64) -> String {
    format!("/admin/users/{id}")
}

/// The form's values: the person's, or what was typed when a change was refused.
pub struct FormValues {
    pub username: String,
    pub email: String,
    pub name: String,
    pub department: String,
    pub admin: bool,
    pub hold: String,
}

impl From<&User> for FormValues {
    fn from(user: &User) -> Self {
        Self {
            username: user.username.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            department: user.department.clone(),
            admin: user.is_admin(),
            hold: user.hold_hours.map(|h| h.to_string()).unwrap_or_default(),
        }
    }
}

/// One linked card: its handle (hex of the keyed hash; the number is not kept).
pub struct CardLine {
    pub handle: String,
    pub added: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "admin/user_edit.html")]
struct EditPage {
    page: Page,
    target: User,
    directory: bool,
    values: FormValues,
    cards: Vec<CardLine>,
    default_hold: u64,
    /// A server-made temporary password, shown this once.
    temporary: Option<String>,
}

async fn show(
    state: &AppState,
    who: &Admin,
    target: User,
    values: Option<FormValues>,
    result: Option<Result<String, Problem>>,
    temporary: Option<String>,
) -> Result<HttpResponse, PageError> {
    let identity = &state.services.identity;
    let mut page = Page::for_user(&format!("User {}", target.username), identity, &who.0);
    if let Some(result) = result {
        page = page.with_outcome(result)?;
    }
    let cards = identity
        .badges_of(&target)
        .await?
        .into_iter()
        .map(|b| CardLine {
            handle: hex::encode(&b.badge_hash),
            added: when(b.created_at),
            last_used: b.last_used_at.map(when).unwrap_or_else(|| "never".into()),
        })
        .collect();
    render(&EditPage {
        page,
        directory: target.source == UserSource::Ldap,
        values: values.unwrap_or_else(|| FormValues::from(&target)),
        target,
        cards,
        default_hold: state.services.settings.queue.hold_hours,
        temporary,
    })
}

/// `GET /admin/users/{id}`.
pub async fn edit_page(
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let target = state.services.identity.user(path.into_inner()).await?;
    let flash = state.flash.take(&who.0.token, &user_path(target.id));
    let result = flash.as_ref().and_then(|f| match (&f.notice, &f.error) {
        (_, Some(error)) => Some(Err(Problem::bad_request(error.clone()))),
        (Some(notice), None) => Some(Ok(notice.clone())),
        (None, None) => None,
    });
    let temporary = flash.and_then(|f| f.secret).map(|(_, password)| password);
    show(&state, &who, target, None, result, temporary).await
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    /// Absent for directory people (read-only there).
    username: Option<String>,
    email: Option<String>,
    name: Option<String>,
    department: Option<String>,
    #[serde(default)]
    role: String,
    #[serde(default)]
    hold: String,
}

csrf_field!(EditForm);

/// `POST /admin/users/{id}`: saves the edit, or shows the form again as typed.
pub async fn save(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<EditForm>,
) -> Result<HttpResponse, PageError> {
    let identity = &state.services.identity;
    let target = identity.user(path.into_inner()).await?;
    let hold = match form.hold.trim() {
        "" => Ok(None),
        text => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Problem::bad_request("Hold hours must be a whole number.")),
    };
    let edit = hold.map(|hold| UserEdit {
        username: form.username.clone(),
        email: form.email.clone(),
        name: form.name.clone(),
        department: form.department.clone(),
        admin: match form.role.as_str() {
            "admin" => Some(true),
            "user" => Some(false),
            _ => None,
        },
        hold_hours: Some(hold),
        ..UserEdit::default()
    });
    let result = match edit {
        Ok(edit) => identity
            .edit_user(&who.0.principal.user, target.id, &edit, &client)
            .await
            .map_err(Problem::from),
        Err(problem) => Err(problem),
    };
    match result {
        Ok(saved) => {
            let notice = format!("Saved {}.", saved.username);
            Ok(state
                .flash
                .redirect(&who.0.token, &user_path(saved.id), Flash::notice(notice)))
        }
        Err(problem) => {
            let typed = FormValues {
                username: form.username.unwrap_or_else(|| target.username.clone()),
                email: form.email.unwrap_or_else(|| target.email.clone()),
                name: form.name.unwrap_or_else(|| target.name.clone()),
                department: form.department.unwrap_or_else(|| target.department.clone()),
                admin: form.role == "admin",
                hold: form.hold,
            };
            show(&state, &who, target, Some(typed), Some(Err(problem)), None).await
        }
    }
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    /// Empty: the server makes one and shows it once.
    #[serde(default)]
    temporary: String,
    #[serde(default)]
    revoke_app_passwords: Option<String>,
}

csrf_field!(ResetForm);

/// `POST /admin/users/{id}/password`: a temporary password the person must replace.
pub async fn reset_password(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<ResetForm>,
) -> Result<HttpResponse, PageError> {
    let identity = &state.services.identity;
    let id = path.into_inner();
    let temporary = (!form.temporary.is_empty()).then_some(form.temporary.as_str());
    let result = identity
        .reset_password(
            &who.0.principal.user,
            id,
            temporary,
            form.revoke_app_passwords.is_some(),
            &client,
        )
        .await;
    let target = identity.user(id).await?;
    match result {
        Ok(reset) => {
            let notice = format!(
                "Password reset: {} must choose a new one at the next sign-in. {} session(s) ended; {}.",
                target.username,
                reset.sessions_ended,
                if form.revoke_app_passwords.is_some() {
                    format!("{} app password(s) revoked", reset.app_passwords_revoked)
                } else {
                    "app passwords kept".into()
                }
            );
            // A server-made password waits in memory for the GET, never in the URL.
            let flash = Flash {
                secret: reset
                    .shown
                    .map(|s| (target.username.clone(), s.as_str().to_owned())),
                ..Flash::notice(notice)
            };
            Ok(state.flash.redirect(&who.0.token, &user_path(id), flash))
        }
        Err(e) => {
            let flash = Flash::outcome::<String>(Err(e.into()))?;
            Ok(state.flash.redirect(&who.0.token, &user_path(id), flash))
        }
    }
}

#[derive(Deserialize)]
pub struct CardForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    card: String,
}

csrf_field!(CardForm);

/// `POST /admin/users/{id}/badges`: link a card number.
pub async fn add_card(
    state: web::Data<AppState>,
    path: web::Path<i64>,
    client: ClientInfo,
    SignedForm { who, form }: AdminForm<CardForm>,
) -> Result<HttpResponse, PageError> {
    let identity = &state.services.identity;
    let id = path.into_inner();
    let result = identity
        .add_badge(&who.0.principal.user, id, &form.card, &client)
        .await
        .map(|()| "Card linked.".to_owned())
        .map_err(Problem::from);
    Ok(state
        .flash
        .redirect(&who.0.token, &user_path(id), Flash::outcome(result)?))
}

/// `POST /admin/users/{id}/badges/{handle}/remove`: unlink one card.
pub async fn remove_card(
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    client: ClientInfo,
    SignedForm { who, .. }: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let identity = &state.services.identity;
    let (id, handle) = path.into_inner();
    let result = identity
        .remove_badge(&who.0.principal.user, id, &handle, &client)
        .await
        .map(|()| "Card unlinked.".to_owned())
        .map_err(Problem::from);
    Ok(state
        .flash
        .redirect(&who.0.token, &user_path(id), Flash::outcome(result)?))
}
