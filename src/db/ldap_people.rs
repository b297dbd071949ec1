//! The directory people (LDAP / Active Directory): who the sync holds, and its
//! changes applied a page at a time in one transaction each, with their audit rows.

use super::{Db, DbResult, UserRow, on_backend};
use crate::clock::now;

/// Links a directory card to its person unless the badge is someone else's already
/// (a badge linked at a station stays with whoever linked it), and remembers the
/// directory's card either way, so the next sync sees no change.
macro_rules! link_card {
    ($tx:ident, $user_id:expr, $card:expr, $at:expr) => {{
        sqlx::query(
            "INSERT INTO badges (badge_hash, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (badge_hash) DO NOTHING",
        )
        .bind($card)
        .bind($user_id)
        .bind($at)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("UPDATE ldap_people SET card_hash = $1 WHERE user_id = $2")
            .bind($card)
            .bind($user_id)
            .execute(&mut *$tx)
            .await?;
    }};
}

/// A directory person as stored: the user row and what the last sync saw.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LdapPersonRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub dn: Option<String>,
    pub card_hash: Option<Vec<u8>>,
    /// The sync disabled them (else an admin did, and they stay disabled).
    pub disabled_by_sync: Option<bool>,
}

/// What a directory person looks like in PrintPark after a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapPersonFields {
    pub username: String,
    pub email: String,
    pub name: String,
    pub department: String,
    pub role: String,
    pub external_id: String,
    pub dn: String,
    /// Keyed hash of the card number (`badges.badge_hash`), if the entry has one.
    pub card_hash: Option<Vec<u8>>,
}

/// One change a sync makes (`old_card`: the hash the last sync linked).
#[derive(Debug, Clone)]
pub enum LdapChange {
    Create(LdapPersonFields),
    Update {
        user_id: i64,
        fields: LdapPersonFields,
        old_card: Option<Vec<u8>>,
        /// Back in the directory after the sync disabled them.
        enable: bool,
    },
    Disable {
        user_id: i64,
        /// For the audit row.
        username: String,
    },
}

/// The audit row that goes with a change (same transaction).
#[derive(Debug, Clone)]
pub struct LdapChangeAudit {
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    pub client_addr: String,
    pub detail: String,
}

impl Db {
    /// Every `ldap` person with what the last sync saw of them.
    pub async fn ldap_people(&self) -> DbResult<Vec<LdapPersonRow>> {
        let columns = super::users::USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns}, p.dn, p.card_hash, p.disabled_by_sync FROM users u LEFT JOIN ldap_people p ON p.user_id = u.id \
             WHERE u.source = 'ldap'"
        );
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, LdapPersonRow>(&sql)
                .fetch_all(pool)
                .await?
        }))
    }

    /// The DN the last sync saw for this person.
    pub async fn ldap_dn_of(&self, user_id: i64) -> DbResult<Option<String>> {
        let sql = "SELECT dn FROM ldap_people WHERE user_id = $1";
        Ok(on_backend!(self, |pool| sqlx::query_scalar(sql)
            .bind(user_id)
            .fetch_optional(pool)
            .await?))
    }

    /// Usernames and e-mails of everyone who is not a directory person.
    pub async fn non_ldap_logins(&self) -> DbResult<Vec<(String, String)>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, (String, String)>(
                "SELECT username, email FROM users WHERE source <> 'ldap'",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Applies a page of changes and their audit rows in one transaction. A unique
    /// violation (someone took a username meanwhile) rolls the page back as
    /// `DbError::Conflict`; the caller then applies it change by change.
    pub async fn apply_ldap_changes(
        &self,
        changes: &[(LdapChange, Option<LdapChangeAudit>)],
    ) -> DbResult<()> {
        let at = now();
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (change, audit) in changes {
                match change {
                    LdapChange::Create(f) => {
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO users (username, email, name, department, role, password_hash, created_at, updated_at, source, external_id) \
                             VALUES ($1, $2, $3, $4, $5, NULL, $6, $6, 'ldap', $7) RETURNING id",
                        )
                        .bind(&f.username)
                        .bind(&f.email)
                        .bind(&f.name)
                        .bind(&f.department)
                        .bind(&f.role)
                        .bind(at)
                        .bind(&f.external_id)
                        .fetch_one(&mut *tx)
                        .await?;
                        sqlx::query(
                            "INSERT INTO ldap_people (user_id, dn, card_hash, synced_at) VALUES ($1, $2, NULL, $3)",
                        )
                        .bind(id)
                        .bind(&f.dn)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                        if let Some(card) = &f.card_hash {
                            link_card!(tx, id, card, at);
                        }
                    }
                    LdapChange::Update {
                        user_id,
                        fields: f,
                        old_card,
                        enable,
                    } => {
                        sqlx::query(
                            "UPDATE users SET username = $1, email = $2, name = $3, department = $4, role = $5, \
                             disabled = (disabled AND NOT $8), updated_at = $6 WHERE id = $7",
                        )
                        .bind(&f.username)
                        .bind(&f.email)
                        .bind(&f.name)
                        .bind(&f.department)
                        .bind(&f.role)
                        .bind(at)
                        .bind(user_id)
                        .bind(enable)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "INSERT INTO ldap_people (user_id, dn, card_hash, synced_at) VALUES ($1, $2, NULL, $3) \
                             ON CONFLICT (user_id) DO UPDATE SET dn = $2, synced_at = $3, \
                             disabled_by_sync = (ldap_people.disabled_by_sync AND NOT $4)",
                        )
                        .bind(user_id)
                        .bind(&f.dn)
                        .bind(at)
                        .bind(enable)
                        .execute(&mut *tx)
                        .await?;
                        if old_card != &f.card_hash {
                            if let Some(old) = old_card {
                                sqlx::query(
                                    "DELETE FROM badges WHERE badge_hash = $1 AND user_id = $2",
                                )
                                .bind(old)
                                .bind(user_id)
                                .execute(&mut *tx)
                                .await?;
                            }
                            sqlx::query(
                                "UPDATE ldap_people SET card_hash = NULL WHERE user_id = $1",
                            )
                            .bind(user_id)
                            .execute(&mut *tx)
                            .await?;
                            if let Some(card) = &f.card_hash {
                                link_card!(tx, *user_id, card, at);
                            }
                        }
                    }
                    LdapChange::Disable { user_id, .. } => {
                        sqlx::query(
                            "UPDATE users SET disabled = TRUE, updated_at = $1 WHERE id = $2",
                        )
                        .bind(at)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "UPDATE ldap_people SET disabled_by_sync = TRUE WHERE user_id = $1",
                        )
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                        // A disabled person is signed out everywhere at once.
                        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                            .bind(user_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                if let Some(a) = audit {
                    sqlx::query(
                        "INSERT INTO audit_log (at, actor_id, actor, action, target, outcome, client_addr, detail) \
                         VALUES ($1, $2, $3, $4, $5, 'success', $6, $7)",
                    )
                    .bind(at)
                    .bind(a.actor_id)
                    .bind(&a.actor)
                    .bind(a.action)
                    .bind(&a.target)
                    .bind(&a.client_addr)
                    .bind(&a.detail)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
