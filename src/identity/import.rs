//! CSV import of people, for sites without a directory: a dry run first, which plans
//! every row (create, update, unchanged, or error with the reason) and keeps the plan;
//! then "Import" applies exactly that plan, re-planned against the people as they are
//! now: if any row would now do something else, nothing is applied and the new plan
//! is shown instead; otherwise everything is written in one transaction with one
//! audit row (all or nothing). Rows in error are never imported.
//!
//! Columns (header row, any order, names case-insensitive): `username` (required),
//! `email` (required for a new person), `name`, `department`, `card_number`. An
//! unknown column refuses the file (a misspelt header would otherwise drop data). An
//! empty cell leaves that field of an existing person as it is. Card numbers become
//! keyed hashes as soon as they are read: neither the plan nor the page holds one.

use super::people::edit::checked_card;
use super::people::{require_admin, validate_email, validate_username};
use super::{
    AuditAction, AuditOutcome, Identity, IdentityError, IdentityResult, User, normalize_login,
};
use crate::db::user_imports::{ImportCreate, ImportUpdate};
use crate::db::{AuditRecord, DbError};

mod csv;
mod plan;

pub use csv::FileError;
pub use plan::{PlannedRow, RowAction};

/// The largest file accepted (checked while it arrives).
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;
/// The most people in one file (checked while it is read).
pub const MAX_ROWS: usize = 10_000;
/// A preview older than this is not applied: the admin looks again.
const PREVIEW_SECS: i64 = 3600;

/// A column of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    Username,
    Email,
    Name,
    Department,
    Card,
}

impl Column {
    fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "username" => Some(Column::Username),
            "email" | "e-mail" => Some(Column::Email),
            "name" => Some(Column::Name),
            "department" => Some(Column::Department),
            "card_number" | "card" => Some(Column::Card),
            _ => None,
        }
    }
}

/// A planned import as the admin sees it.
#[derive(Debug, Clone)]
pub struct ImportPreview {
    pub id: i64,
    pub file_name: String,
    pub rows: Vec<PlannedRow>,
}

impl ImportPreview {
    /// How many rows plan this action.
    pub fn count(&self, action: RowAction) -> usize {
        self.rows.iter().filter(|r| r.action == action).count()
    }
}

/// What "Import" did.
#[derive(Debug, Clone)]
pub enum ImportOutcome {
    /// Applied as previewed: (created, updated).
    Applied { created: usize, updated: usize },
    /// The people changed since the preview: nothing applied; here is the new plan.
    Changed(ImportPreview),
}

impl Identity {
    /// The dry run: reads the file, plans every row and keeps the plan. Nothing else
    /// changes.
    pub async fn preview_import(
        &self,
        actor: &User,
        file_name: &str,
        bytes: &[u8],
    ) -> IdentityResult<ImportPreview> {
        require_admin(actor)?;
        let (columns, records) = csv::read(bytes).map_err(|e| IdentityError::Invalid {
            field: "file",
            reason: e.0,
        })?;
        let rows = records
            .into_iter()
            .map(|record| {
                let mut row = plan::InputRow {
                    line: record.line,
                    ..Default::default()
                };
                if record.fields.len() != columns.len() {
                    row.error = Some(format!(
                        "{} fields, the header has {}",
                        record.fields.len(),
                        columns.len()
                    ));
                }
                for (column, value) in columns.iter().zip(record.fields) {
                    match column {
                        Column::Username => row.username = value,
                        Column::Email => row.email = value,
                        Column::Name => row.name = value,
                        Column::Department => row.department = value,
                        Column::Card if value.trim().is_empty() => {}
                        Column::Card => match checked_card(&value) {
                            Ok(card) => row.card = Some(hex::encode(self.badge_hash(&card))),
                            Err(e) => row.error = row.error.or(Some(e.to_string())),
                        },
                    }
                }
                row
            })
            .collect::<Vec<_>>();
        let planned = plan::plan(rows, &self.people_now().await?);
        self.keep_plan(actor, file_name, planned).await
    }

    /// The people and cards as they are now, for planning.
    async fn people_now(&self) -> IdentityResult<plan::People> {
        Ok(plan::People::new(
            self.db.list_users().await?,
            self.db.badge_owners().await?,
        ))
    }

    async fn keep_plan(
        &self,
        actor: &User,
        file_name: &str,
        rows: Vec<PlannedRow>,
    ) -> IdentityResult<ImportPreview> {
        let file_name: String = file_name
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let json = serde_json::to_string(&rows)
            .map_err(|e| IdentityError::Internal(format!("import plan: {e}")))?;
        self.db
            .delete_user_imports_before(crate::clock::now() - PREVIEW_SECS)
            .await?;
        let id = self
            .db
            .insert_user_import(actor.id, &file_name, &json)
            .await?;
        Ok(ImportPreview {
            id,
            file_name,
            rows,
        })
    }

    /// A kept preview (made by any admin, within the hour).
    pub async fn import_preview(&self, actor: &User, id: i64) -> IdentityResult<ImportPreview> {
        require_admin(actor)?;
        let row = self.db.user_import(id).await?;
        let rows: Vec<PlannedRow> = serde_json::from_str(&row.plan)
            .map_err(|e| IdentityError::Internal(format!("import plan: {e}")))?;
        Ok(ImportPreview {
            id: row.id,
            file_name: row.file_name,
            rows,
        })
    }

    /// "Import": applies the kept preview `id` if planning it again gives the same
    /// plan; see the module comment.
    pub async fn apply_import(
        &self,
        actor: &User,
        id: i64,
        client: &super::ClientInfo,
    ) -> IdentityResult<ImportOutcome> {
        let previewed = self.import_preview(actor, id).await?;
        let stored = self.db.user_import(id).await?;
        if stored.applied_at.is_some() {
            return Err(IdentityError::Invalid {
                field: "import",
                reason: "this file was imported already".into(),
            });
        }
        if stored.created_at < crate::clock::now() - PREVIEW_SECS {
            return Err(IdentityError::Invalid {
                field: "import",
                reason: "this preview is more than an hour old: upload the file again".into(),
            });
        }
        let again = plan::plan(
            previewed.rows.iter().map(plan::InputRow::from).collect(),
            &self.people_now().await?,
        );
        let same = again.len() == previewed.rows.len()
            && again
                .iter()
                .zip(&previewed.rows)
                .all(|(a, b)| a.action == b.action && a.note == b.note);
        if !same {
            let fresh = self.keep_plan(actor, &previewed.file_name, again).await?;
            return Ok(ImportOutcome::Changed(fresh));
        }
        let cards: Vec<Option<Vec<u8>>> = again
            .iter()
            .map(|r| r.card.as_deref().and_then(|h| hex::decode(h).ok()))
            .collect();
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for (row, card) in again.iter().zip(&cards) {
            match (row.action, row.user_id) {
                (RowAction::Create, _) => creates.push(ImportCreate {
                    username: &row.username,
                    email: &row.email,
                    name: &row.name,
                    department: &row.department,
                    card_hash: card.as_deref(),
                }),
                (RowAction::Update, Some(user_id)) => updates.push(ImportUpdate {
                    user_id,
                    email: row.changes.email.then_some(row.email.as_str()),
                    name: row.changes.name.then_some(row.name.as_str()),
                    department: row.changes.department.then_some(row.department.as_str()),
                    card_hash: if row.changes.card {
                        card.as_deref()
                    } else {
                        None
                    },
                }),
                _ => {}
            }
        }
        let detail = format!(
            "file {:?}: {} created, {} updated, {} unchanged, {} row(s) in error not imported",
            previewed.file_name,
            creates.len(),
            updates.len(),
            previewed.count(RowAction::Unchanged),
            previewed.count(RowAction::Error),
        );
        let audit = AuditRecord {
            actor_id: Some(actor.id),
            actor: &actor.username,
            action: AuditAction::UserImport.as_str(),
            target: &previewed.file_name,
            outcome: AuditOutcome::Success.as_str(),
            client_addr: &client.addr,
            detail: &detail,
        };
        match self
            .db
            .apply_user_import(id, &creates, &updates, &audit)
            .await
        {
            Ok(()) => Ok(ImportOutcome::Applied {
                created: creates.len(),
                updated: updates.len(),
            }),
            Err(DbError::NotFound) => Err(IdentityError::Invalid {
                field: "import",
                reason: "this file was imported already".into(),
            }),
            Err(DbError::Conflict(_)) => Err(IdentityError::Invalid {
                field: "import",
                reason:
                    "people changed while importing; nothing was imported: upload the file again"
                        .into(),
            }),
            Err(e) => Err(e.into()),
        }
    }
}

/// Username and e-mail as stored, each checked.
fn checked_login(username: &str, email: &str) -> Result<(String, String), String> {
    let username = normalize_login(username);
    let email = normalize_login(email);
    validate_username(&username).map_err(|e| e.to_string())?;
    if !email.is_empty() {
        validate_email(&email).map_err(|e| e.to_string())?;
    }
    Ok((username, email))
}
