//! Planning an import: what each row would do to the people as they are now. A pure
//! function of the rows and the people, so planning the stored rows again tells
//! whether anything changed since the preview.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::checked_login;
use crate::db::UserRow;

/// The longest name or department kept.
const MAX_TEXT_CHARS: usize = 200;

/// What a row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowAction {
    Create,
    Update,
    Unchanged,
    Error,
}

impl RowAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RowAction::Create => "create",
            RowAction::Update => "update",
            RowAction::Unchanged => "unchanged",
            RowAction::Error => "error",
        }
    }
}

/// Which fields an update changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub email: bool,
    pub name: bool,
    pub department: bool,
    pub card: bool,
}

/// One row of the plan. `card` is the hex keyed hash of the card number, never it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedRow {
    pub line: usize,
    pub username: String,
    pub email: String,
    pub name: String,
    pub department: String,
    pub card: Option<String>,
    pub action: RowAction,
    /// For an update, what changes; for an error, why.
    pub note: String,
    pub user_id: Option<i64>,
    #[serde(default)]
    pub changes: Changes,
}

/// A row as read (or as stored, when planned again).
#[derive(Debug, Clone, Default)]
pub(super) struct InputRow {
    pub line: usize,
    pub username: String,
    pub email: String,
    pub name: String,
    pub department: String,
    pub card: Option<String>,
    /// Refused while reading (a field count, a card number): stays an error.
    pub error: Option<String>,
}

impl From<&PlannedRow> for InputRow {
    fn from(row: &PlannedRow) -> Self {
        let read_error = row.action == RowAction::Error && row.note.starts_with(READ_ERROR);
        Self {
            line: row.line,
            username: row.username.clone(),
            email: row.email.clone(),
            name: row.name.clone(),
            department: row.department.clone(),
            card: row.card.clone(),
            error: read_error.then(|| row.note[READ_ERROR.len()..].to_owned()),
        }
    }
}

/// Marks an error found while reading the file, so planning again keeps it.
const READ_ERROR: &str = "in the file: ";

struct Person {
    id: i64,
    email: String,
    name: String,
    department: String,
    directory: bool,
}

/// The people and cards as they are now.
pub(super) struct People {
    by_username: HashMap<String, Person>,
    by_email: HashMap<String, i64>,
    card_owner: HashMap<String, i64>,
}

impl People {
    pub fn new(users: Vec<UserRow>, cards: Vec<(Vec<u8>, i64)>) -> Self {
        let by_email = users.iter().map(|u| (u.email.clone(), u.id)).collect();
        let by_username = users
            .into_iter()
            .map(|u| {
                (
                    u.username,
                    Person {
                        id: u.id,
                        email: u.email,
                        name: u.name,
                        department: u.department,
                        directory: u.source == "ldap",
                    },
                )
            })
            .collect();
        let card_owner = cards
            .into_iter()
            .map(|(hash, id)| (hex::encode(hash), id))
            .collect();
        Self {
            by_username,
            by_email,
            card_owner,
        }
    }
}

/// Plans every row; see the module comment.
pub(super) fn plan(rows: Vec<InputRow>, people: &People) -> Vec<PlannedRow> {
    let mut seen_username: HashMap<String, usize> = HashMap::new();
    let mut seen_email: HashMap<String, usize> = HashMap::new();
    let mut seen_card: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut planned = PlannedRow {
            line: row.line,
            username: row.username.trim().to_owned(),
            email: row.email.trim().to_owned(),
            name: row.name.trim().to_owned(),
            department: row.department.trim().to_owned(),
            card: row.card.clone(),
            action: RowAction::Error,
            note: String::new(),
            user_id: None,
            changes: Changes::default(),
        };
        if let Some(error) = row.error {
            planned.note = format!("{READ_ERROR}{error}");
            out.push(planned);
            continue;
        }
        match plan_row(
            &mut planned,
            people,
            &mut [&mut seen_username, &mut seen_email, &mut seen_card],
        ) {
            Ok(()) => {}
            Err(reason) => {
                planned.action = RowAction::Error;
                planned.note = reason;
            }
        }
        out.push(planned);
    }
    out
}

fn plan_row(
    row: &mut PlannedRow,
    people: &People,
    seen: &mut [&mut HashMap<String, usize>; 3],
) -> Result<(), String> {
    let (username, email) = checked_login(&row.username, &row.email)?;
    row.username = username;
    row.email = email;
    for (field, text) in [("name", &row.name), ("department", &row.department)] {
        if text.chars().count() > MAX_TEXT_CHARS || text.chars().any(char::is_control) {
            return Err(format!(
                "{field}: at most {MAX_TEXT_CHARS} characters, on one line"
            ));
        }
    }
    let keys = [
        Some(row.username.clone()),
        (!row.email.is_empty()).then(|| row.email.clone()),
        row.card.clone(),
    ];
    for ((key, map), what) in
        keys.iter()
            .zip(seen.iter())
            .zip(["username", "e-mail", "card number"])
    {
        if let Some(key) = key
            && let Some(first) = map.get(key)
        {
            return Err(format!("same {what} as line {first}"));
        }
    }
    for (key, map) in keys.into_iter().zip(seen.iter_mut()) {
        if let Some(key) = key {
            map.insert(key, row.line);
        }
    }
    let email_owner = people.by_email.get(&row.email).copied();
    let card_owner = row
        .card
        .as_ref()
        .and_then(|c| people.card_owner.get(c))
        .copied();
    match people.by_username.get(&row.username) {
        Some(person) => {
            if person.directory {
                return Err("managed by the directory".into());
            }
            row.user_id = Some(person.id);
            if email_owner.is_some_and(|id| id != person.id) {
                return Err("that e-mail belongs to another person".into());
            }
            if card_owner.is_some_and(|id| id != person.id) {
                return Err("that card belongs to another person".into());
            }
            row.changes = Changes {
                email: !row.email.is_empty() && row.email != person.email,
                name: !row.name.is_empty() && row.name != person.name,
                department: !row.department.is_empty() && row.department != person.department,
                card: row.card.is_some() && card_owner.is_none(),
            };
            let changed: Vec<&str> = [
                (row.changes.email, "e-mail"),
                (row.changes.name, "name"),
                (row.changes.department, "department"),
                (row.changes.card, "card"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            if changed.is_empty() {
                row.action = RowAction::Unchanged;
            } else {
                row.action = RowAction::Update;
                row.note = changed.join(", ");
            }
        }
        None => {
            if row.email.is_empty() {
                return Err("an e-mail is required for a new person".into());
            }
            if email_owner.is_some() {
                return Err("that e-mail belongs to another person".into());
            }
            if card_owner.is_some() {
                return Err("that card belongs to another person".into());
            }
            row.action = RowAction::Create;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, username: &str, source: &str) -> UserRow {
        UserRow {
            id,
            username: username.into(),
            email: format!("{username}@example.org"),
            name: String::new(),
            department: String::new(),
            role: "user".into(),
            password_hash: None,
            pin_hash: None,
            disabled: false,
            hold_hours: None,
            created_at: 0,
            updated_at: 0,
            source: source.into(),
            external_id: None,
            must_change_password: false,
        }
    }

    fn row(line: usize, username: &str, email: &str, card: Option<&str>) -> InputRow {
        InputRow {
            line,
            username: username.into(),
            email: email.into(),
            card: card.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn every_row_gets_its_action_or_its_reason() {
        let people = People::new(
            vec![user(1, "ada", "local"), user(2, "dir", "ldap")],
            vec![(vec![0xaa], 1)],
        );
        let planned = plan(
            vec![
                row(2, "new", "new@example.org", Some("bb")),
                row(3, "ada", "", None),
                row(4, "ada", "ada2@example.org", None),
                row(5, "Ada", "", None),
                row(6, "bob", "ada@example.org", None),
                row(7, "dir", "", None),
                row(8, "carl", "", None),
                row(9, "dora", "dora@example.org", Some("aa")),
                row(10, "eve", "bad-address", None),
                row(11, "fay", "fay@example.org", Some("bb")),
            ],
            &people,
        );
        let got: Vec<(RowAction, &str)> = planned
            .iter()
            .map(|r| (r.action, r.note.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (RowAction::Create, ""),
                (RowAction::Unchanged, ""),
                (RowAction::Error, "same username as line 3"),
                (RowAction::Error, "same username as line 3"),
                (RowAction::Error, "that e-mail belongs to another person"),
                (RowAction::Error, "managed by the directory"),
                (RowAction::Error, "an e-mail is required for a new person"),
                (RowAction::Error, "that card belongs to another person"),
                (
                    RowAction::Error,
                    "email: enter an address like name@example.org"
                ),
                (RowAction::Error, "same card number as line 2"),
            ]
        );
    }
}
