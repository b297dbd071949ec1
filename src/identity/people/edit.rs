//! An admin edits a person: name, e-mail, username, department, role, hold time and
//! card numbers. Everything is checked before anything is written; the fields are
//! written by one statement that refuses to demote the last enabled admin, committed
//! with an audit row naming the fields that changed (never a card number).
//! For people from the directory (`source = ldap`) the fields it supplies are its own.

use serde::Deserialize;

use super::super::station::normalize_badge;
use super::super::{
    AuditAction, AuditEvent, AuditOutcome, ClientInfo, Identity, IdentityError, IdentityResult,
    Role, User, UserSource, normalize_login,
};
use super::{last_admin, require_admin, validate_email, validate_username};
use crate::db::{AuditRecord, DbError, UserFields};

/// The longest name or department kept.
const MAX_TEXT_CHARS: usize = 200;
/// Card numbers longer than this are no card a reader types.
const MAX_CARD_CHARS: usize = 64;

/// What an admin changes on a person. Absent fields stay as they are.
#[derive(Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserEdit {
    pub username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub department: Option<String>,
    /// `true` makes an admin, `false` a user (the last enabled admin stays one).
    pub admin: Option<bool>,
    /// Hours this person's jobs are held (1 to 720); `null` = the queue default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable)]
    pub hold_hours: Option<Option<i64>>,
    /// Card numbers to link (stored only as keyed hashes).
    #[serde(default)]
    pub add_cards: Vec<String>,
    /// Card numbers to unlink from this person.
    #[serde(default)]
    pub remove_cards: Vec<String>,
}

// Card numbers are credentials: never in a log.
impl std::fmt::Debug for UserEdit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserEdit")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("admin", &self.admin)
            .field("hold_hours", &self.hold_hours)
            .field("add_cards", &self.add_cards.len())
            .field("remove_cards", &self.remove_cards.len())
            .finish_non_exhaustive()
    }
}

/// A JSON field that is present: `null` is `Some(None)`, absent stays `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

fn managed_by_directory(field: &'static str) -> IdentityError {
    IdentityError::Invalid {
        field,
        reason: "managed by the directory".into(),
    }
}

fn checked_text(field: &'static str, text: &str) -> IdentityResult<String> {
    let text = text.trim();
    if text.chars().count() > MAX_TEXT_CHARS || text.chars().any(char::is_control) {
        return Err(IdentityError::Invalid {
            field,
            reason: format!("use at most {MAX_TEXT_CHARS} characters, on one line"),
        });
    }
    Ok(text.to_owned())
}

/// A card number as readers send it, normalised; empty or overlong ones are refused.
pub(crate) fn checked_card(card: &str) -> IdentityResult<String> {
    let card = normalize_badge(card);
    if card.is_empty() || card.len() > MAX_CARD_CHARS {
        return Err(IdentityError::Invalid {
            field: "card number",
            reason: format!("use 1 to {MAX_CARD_CHARS} letters or digits"),
        });
    }
    Ok(card)
}

impl Identity {
    /// Applies an admin's edit; see the module comment. Returns the person as stored.
    pub async fn edit_user(
        &self,
        actor: &User,
        user_id: i64,
        edit: &UserEdit,
        client: &ClientInfo,
    ) -> IdentityResult<User> {
        require_admin(actor)?;
        let target = self.user(user_id).await?;
        let directory = target.source == UserSource::Ldap;
        let mut changed: Vec<&str> = Vec::new();
        let username = match &edit.username {
            Some(text) => normalize_login(text),
            None => target.username.clone(),
        };
        let email = match &edit.email {
            Some(text) => normalize_login(text),
            None => target.email.clone(),
        };
        let name = match &edit.name {
            Some(text) => checked_text("name", text)?,
            None => target.name.clone(),
        };
        let department = match &edit.department {
            Some(text) => checked_text("department", text)?,
            None => target.department.clone(),
        };
        for (field, new, old) in [
            ("username", &username, &target.username),
            ("email", &email, &target.email),
            ("name", &name, &target.name),
            ("department", &department, &target.department),
        ] {
            if new != old {
                if directory {
                    return Err(managed_by_directory(field));
                }
                changed.push(field);
            }
        }
        if username != target.username {
            validate_username(&username)?;
            self.refuse_taken("username", &username, user_id).await?;
        }
        if email != target.email {
            validate_email(&email)?;
            self.refuse_taken("email", &email, user_id).await?;
        }
        let role = match edit.admin {
            Some(true) => Role::Admin,
            Some(false) => Role::User,
            None => target.role,
        };
        if role != target.role {
            changed.push("role");
        }
        let hold_hours = match edit.hold_hours {
            Some(hours) => hours,
            None => target.hold_hours,
        };
        if let Some(h) = hold_hours
            && !(1..=720).contains(&h)
        {
            return Err(IdentityError::Invalid {
                field: "hold",
                reason: "use 1 to 720 hours, or leave empty for the default".into(),
            });
        }
        if hold_hours != target.hold_hours {
            changed.push("hold_hours");
        }
        let (adds, removes) = self.card_changes(&target, edit).await?;
        if !adds.is_empty() {
            changed.push("cards added");
        }
        if !removes.is_empty() {
            changed.push("cards removed");
        }
        if changed.is_empty() {
            return Ok(target);
        }
        let detail = format!("changed: {}", changed.join(", "));
        let audit = AuditRecord {
            actor_id: Some(actor.id),
            actor: &actor.username,
            action: AuditAction::UserEdit.as_str(),
            target: &target.username,
            outcome: AuditOutcome::Success.as_str(),
            client_addr: &client.addr,
            detail: &detail,
        };
        let fields = UserFields {
            username: &username,
            email: &email,
            name: &name,
            department: &department,
            role: role.as_str(),
            hold_hours,
        };
        let row = match self.db.update_user_guarded(user_id, &fields, &audit).await {
            Ok(Some(row)) => row,
            Ok(None) => return Err(last_admin()),
            // Taken between the check and the write.
            Err(DbError::Conflict(_)) => {
                return Err(IdentityError::Conflict {
                    field: "username or e-mail",
                });
            }
            Err(e) => return Err(e.into()),
        };
        for hash in &removes {
            self.db.delete_badge_of(user_id, hash).await?;
        }
        for hash in &adds {
            match self.db.insert_badge(hash, user_id).await {
                Ok(()) => {}
                Err(DbError::Conflict(_)) => {
                    return Err(IdentityError::Conflict {
                        field: "card number",
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(row.into())
    }

    /// The keyed hashes of the cards to link and to unlink, each checked: a card to
    /// link is nobody's yet, a card to unlink is this person's.
    async fn card_changes(
        &self,
        target: &User,
        edit: &UserEdit,
    ) -> IdentityResult<(Vec<Vec<u8>>, Vec<Vec<u8>>)> {
        if (!edit.add_cards.is_empty() || !edit.remove_cards.is_empty())
            && target.source == UserSource::Ldap
        {
            return Err(managed_by_directory("card number"));
        }
        let mut adds: Vec<Vec<u8>> = Vec::new();
        for card in &edit.add_cards {
            let hash = self.badge_hash(&checked_card(card)?);
            match self.db.badge_owner(&hash).await? {
                Some(owner) if owner == target.id => {}
                Some(_) => {
                    return Err(IdentityError::Conflict {
                        field: "card number",
                    });
                }
                None if adds.contains(&hash) => {}
                None => adds.push(hash),
            }
        }
        let mut removes: Vec<Vec<u8>> = Vec::new();
        for card in &edit.remove_cards {
            let hash = self.badge_hash(&checked_card(card)?);
            if self.db.badge_owner(&hash).await? != Some(target.id) {
                return Err(IdentityError::Invalid {
                    field: "card number",
                    reason: "that card is not linked to this person".into(),
                });
            }
            if !removes.contains(&hash) {
                removes.push(hash);
            }
        }
        Ok((adds, removes))
    }

    /// `Conflict` when another person has this username or e-mail.
    async fn refuse_taken(
        &self,
        field: &'static str,
        login: &str,
        user_id: i64,
    ) -> IdentityResult<()> {
        match self.db.user_by_login(login).await {
            Ok(other) if other.id != user_id => Err(IdentityError::Conflict { field }),
            Ok(_) | Err(DbError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A person's linked cards: (handle = hex of the keyed hash, added, last used).
    pub async fn badges_of(&self, user: &User) -> IdentityResult<Vec<crate::db::BadgeRow>> {
        Ok(self.db.badges_of(user.id).await?)
    }

    /// An admin unlinks one card, named by its handle (hex of its keyed hash: the
    /// admin page never holds the number).
    pub async fn remove_badge(
        &self,
        actor: &User,
        user_id: i64,
        handle: &str,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        require_admin(actor)?;
        let target = self.user(user_id).await?;
        if target.source == UserSource::Ldap {
            return Err(managed_by_directory("card number"));
        }
        let hash = hex::decode(handle).map_err(|_| IdentityError::NotFound)?;
        self.db.delete_badge_of(user_id, &hash).await?;
        self.audit(AuditEvent {
            actor: Some(actor),
            action: AuditAction::UserBadgeRemove,
            target: &target.username,
            outcome: AuditOutcome::Success,
            client,
            detail: "1 card",
        })
        .await
    }

    /// An admin links one card number to a person.
    pub async fn add_badge(
        &self,
        actor: &User,
        user_id: i64,
        card: &str,
        client: &ClientInfo,
    ) -> IdentityResult<()> {
        require_admin(actor)?;
        let target = self.user(user_id).await?;
        let edit = UserEdit {
            add_cards: vec![card.to_owned()],
            ..UserEdit::default()
        };
        let (adds, _) = self.card_changes(&target, &edit).await?;
        for hash in &adds {
            match self.db.insert_badge(hash, user_id).await {
                Ok(()) => {}
                Err(DbError::Conflict(_)) => {
                    return Err(IdentityError::Conflict {
                        field: "card number",
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.audit(AuditEvent {
            actor: Some(actor),
            action: AuditAction::UserBadgeAdd,
            target: &target.username,
            outcome: AuditOutcome::Success,
            client,
            detail: if adds.is_empty() {
                "card already linked"
            } else {
                "1 card"
            },
        })
        .await
    }
}
