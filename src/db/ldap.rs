//! LDAP / Active Directory: the page's settings row, the sync lease (one sync at a time
//! across servers), the sync runs with their counters and skipped entries, and the
//! directory people's changes, applied a page at a time in one transaction each, with
//! their audit rows.

use super::{Db, DbResult, UserRow, on_backend, touched};
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

/// The settings as saved from the admin page. The bind password stays sealed here.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct LdapSettingsRow {
    pub url: String,
    pub security: String,
    pub ca_pem: String,
    pub pinned_sha256: String,
    pub bind_dn: String,
    pub bind_password_sealed: Option<Vec<u8>>,
    pub base_dn: String,
    pub user_filter: String,
    pub preset: String,
    pub attr_username: String,
    pub attr_email: String,
    pub attr_name: String,
    pub attr_department: String,
    pub attr_card: String,
    pub attr_unique_id: String,
    pub user_groups: String,
    pub admin_groups: String,
    pub sync_interval_minutes: i64,
    pub timeout_secs: i64,
    pub updated_at: i64,
}

const SETTINGS_COLUMNS: &str = "url, security, ca_pem, pinned_sha256, bind_dn, bind_password_sealed, base_dn, user_filter, preset, attr_username, attr_email, attr_name, attr_department, attr_card, attr_unique_id, user_groups, admin_groups, sync_interval_minutes, timeout_secs, updated_at";

/// One sync, as the admin page lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LdapSyncRunRow {
    pub id: i64,
    pub trigger_source: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub state: String,
    pub seen: i64,
    pub created: i64,
    pub updated: i64,
    pub disabled: i64,
    pub unchanged: i64,
    pub skipped: i64,
    pub error: String,
}

const RUN_COLUMNS: &str = "id, trigger_source, started_at, finished_at, state, seen, created, updated, disabled, unchanged, skipped, error";

/// A run's counters, written as it goes and at its end.
#[derive(Debug, Clone, Copy, Default)]
pub struct LdapRunCounts {
    pub seen: i64,
    pub created: i64,
    pub updated: i64,
    pub disabled: i64,
    pub unchanged: i64,
    pub skipped: i64,
}

/// A directory person as stored: the user row and what the last sync saw.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LdapPersonRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub dn: Option<String>,
    pub card_hash: Option<Vec<u8>>,
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
    pub async fn ldap_settings(&self) -> DbResult<Option<LdapSettingsRow>> {
        let sql = format!("SELECT {SETTINGS_COLUMNS} FROM ldap_settings WHERE id = 1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, LdapSettingsRow>(&sql)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Saves the page's settings; a `bind_password_sealed` of `None` keeps the stored one.
    pub async fn save_ldap_settings(&self, row: &LdapSettingsRow) -> DbResult<()> {
        let sql = format!(
            "INSERT INTO ldap_settings (id, {SETTINGS_COLUMNS}) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
             ON CONFLICT (id) DO UPDATE SET url = $1, security = $2, ca_pem = $3, pinned_sha256 = $4, bind_dn = $5, \
             bind_password_sealed = COALESCE($6, ldap_settings.bind_password_sealed), base_dn = $7, user_filter = $8, preset = $9, \
             attr_username = $10, attr_email = $11, attr_name = $12, attr_department = $13, attr_card = $14, attr_unique_id = $15, \
             user_groups = $16, admin_groups = $17, sync_interval_minutes = $18, timeout_secs = $19, updated_at = $20"
        );
        on_backend!(self, |pool| {
            sqlx::query(&sql)
                .bind(&row.url)
                .bind(&row.security)
                .bind(&row.ca_pem)
                .bind(&row.pinned_sha256)
                .bind(&row.bind_dn)
                .bind(&row.bind_password_sealed)
                .bind(&row.base_dn)
                .bind(&row.user_filter)
                .bind(&row.preset)
                .bind(&row.attr_username)
                .bind(&row.attr_email)
                .bind(&row.attr_name)
                .bind(&row.attr_department)
                .bind(&row.attr_card)
                .bind(&row.attr_unique_id)
                .bind(&row.user_groups)
                .bind(&row.admin_groups)
                .bind(row.sync_interval_minutes)
                .bind(row.timeout_secs)
                .bind(now())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Claims the one sync slot until `lease_until`, in one conditional statement: free
    /// (no lease, or an expired one) and, for a scheduled sync, the last one started
    /// before `due_before`. Returns the new run's id, or `None` when another runs.
    /// Runs left `running` by a server that died are marked failed.
    pub async fn claim_ldap_sync(
        &self,
        trigger: &str,
        lease_until: i64,
        due_before: Option<i64>,
    ) -> DbResult<Option<i64>> {
        let at = now();
        let claimed = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE ldap_sync_lease SET lease_until = $1, last_started_at = $2, run_id = NULL \
                 WHERE id = 1 AND lease_until < $2 AND last_started_at < $3",
            )
            .bind(lease_until)
            .bind(at)
            .bind(due_before.unwrap_or(i64::MAX))
            .execute(pool)
            .await?
            .rows_affected()
        });
        if claimed == 0 {
            return Ok(None);
        }
        let id: i64 = on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE ldap_sync_runs SET state = 'failed', finished_at = $1, \
                 error = 'interrupted: the server running it stopped' WHERE state = 'running'",
            )
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO ldap_sync_runs (trigger_source, started_at) VALUES ($1, $2) RETURNING id",
            )
            .bind(trigger)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("UPDATE ldap_sync_lease SET run_id = $1 WHERE id = 1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            id
        });
        Ok(Some(id))
    }

    /// Extends the lease of a running sync (it renews at every page).
    pub async fn renew_ldap_sync(&self, run_id: i64, lease_until: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE ldap_sync_lease SET lease_until = $1 WHERE id = 1 AND run_id = $2")
                .bind(lease_until)
                .bind(run_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    /// Writes a run's progress counters.
    pub async fn ldap_sync_progress(&self, run_id: i64, c: LdapRunCounts) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE ldap_sync_runs SET seen = $1, created = $2, updated = $3, disabled = $4, \
                 unchanged = $5, skipped = $6 WHERE id = $7",
            )
            .bind(c.seen)
            .bind(c.created)
            .bind(c.updated)
            .bind(c.disabled)
            .bind(c.unchanged)
            .bind(c.skipped)
            .bind(run_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Ends a run (`done` or `failed`) and frees the slot.
    pub async fn finish_ldap_sync(
        &self,
        run_id: i64,
        state: &str,
        c: LdapRunCounts,
        error: &str,
    ) -> DbResult<()> {
        self.ldap_sync_progress(run_id, c).await?;
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE ldap_sync_runs SET state = $1, error = $2, finished_at = $3 WHERE id = $4",
            )
            .bind(state)
            .bind(error)
            .bind(now())
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE ldap_sync_lease SET lease_until = 0, run_id = NULL WHERE id = 1 AND run_id = $1",
            )
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn add_ldap_skipped(&self, run_id: i64, entry: &str, reason: &str) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO ldap_sync_skipped (run_id, entry, reason) VALUES ($1, $2, $3)",
            )
            .bind(run_id)
            .bind(entry)
            .bind(reason)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn ldap_sync_runs(&self, limit: i64) -> DbResult<Vec<LdapSyncRunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM ldap_sync_runs ORDER BY id DESC LIMIT $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, LdapSyncRunRow>(&sql)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn ldap_skipped_of(
        &self,
        run_id: i64,
        limit: i64,
    ) -> DbResult<Vec<(String, String)>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, (String, String)>(
                "SELECT entry, reason FROM ldap_sync_skipped WHERE run_id = $1 ORDER BY entry LIMIT $2",
            )
            .bind(run_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Every `ldap` person with what the last sync saw of them.
    pub async fn ldap_people(&self) -> DbResult<Vec<LdapPersonRow>> {
        let columns = super::users::USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns}, p.dn, p.card_hash FROM users u LEFT JOIN ldap_people p ON p.user_id = u.id \
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
                    } => {
                        sqlx::query(
                            "UPDATE users SET username = $1, email = $2, name = $3, department = $4, role = $5, \
                             disabled = FALSE, updated_at = $6 WHERE id = $7",
                        )
                        .bind(&f.username)
                        .bind(&f.email)
                        .bind(&f.name)
                        .bind(&f.department)
                        .bind(&f.role)
                        .bind(at)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "INSERT INTO ldap_people (user_id, dn, card_hash, synced_at) VALUES ($1, $2, NULL, $3) \
                             ON CONFLICT (user_id) DO UPDATE SET dn = $2, synced_at = $3",
                        )
                        .bind(user_id)
                        .bind(&f.dn)
                        .bind(at)
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
