//! The world of the directory tests: a slapd, a PrintPark server whose `[ldap]`
//! section points at it, its local admin; and what the server keeps at rest.

use crate::support;

use printpark::config::{LdapSecurity, LdapSettings};
use printpark::db::{Db, UserRow};
use printpark::identity::ldap::SyncReport;
use printpark::identity::{ClientInfo, User};
use support::slapd::{Flavor, Person, Slapd};
use support::{Backend, TestServer};

/// A PrintPark server whose `[ldap]` section points at a fresh slapd seeded with
/// `people`, and its local admin `boss` (password "correct horse battery").
pub struct World {
    pub slapd: Slapd,
    pub server: TestServer,
    pub admin: User,
}

impl World {
    pub async fn start(
        backend: Backend,
        flavor: Flavor,
        security: LdapSecurity,
        people: &[Person],
    ) -> Self {
        Self::start_tuned(backend, flavor, security, people, |_, _| {}).await
    }

    /// As `start`, with `tune` changing the `[ldap]` section first.
    pub async fn start_tuned(
        backend: Backend,
        flavor: Flavor,
        security: LdapSecurity,
        people: &[Person],
        tune: impl FnOnce(&Slapd, &mut LdapSettings),
    ) -> Self {
        let slapd = Slapd::start_with(flavor, people);
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => support::sqlite_url(dir.path()),
            Backend::Postgres => support::fresh_postgres_url().await,
        };
        let mut ldap = slapd.settings(security);
        tune(&slapd, &mut ldap);
        let server = TestServer::start_with(dir, |d| {
            let mut s = support::settings(d, &url);
            s.ldap = ldap;
            s
        })
        .await;
        let admin = support::create_admin(&server.services.identity).await;
        World {
            slapd,
            server,
            admin,
        }
    }

    /// "Sync now" by the admin; panics when the sync fails.
    pub async fn sync(&self) -> SyncReport {
        self.server
            .services
            .directory
            .sync_now(Some(&self.admin), &ClientInfo::default())
            .await
            .unwrap_or_else(|e| panic!("sync failed: {e}\nslapd log:\n{}", self.slapd.log()))
    }

    pub fn db(&self) -> &Db {
        &self.server.services.db
    }

    /// The account of that username, if any.
    pub async fn user(&self, username: &str) -> Option<UserRow> {
        self.db()
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.username == username)
    }

    pub async fn ldap_users(&self) -> Vec<UserRow> {
        let mut users: Vec<UserRow> = self
            .db()
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.source == "ldap")
            .collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        users
    }

    /// Everything the server keeps at rest, as bytes: every file of its data dir
    /// (SQLite database and journal, sealed files, logs) and, on Postgres, every row of
    /// every table as text (`bytea` as hex).
    pub async fn everything_at_rest(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for file in support::files_under(self.server.dir.path()) {
            out.extend(std::fs::read(file).unwrap_or_default());
        }
        if let Db::Postgres(pool) = self.db() {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for table in tables {
                let rows: Option<String> = sqlx::query_scalar(&format!(
                    "SELECT string_agg(row_to_json(t)::text, E'\\n') FROM \"{table}\" t"
                ))
                .fetch_one(pool)
                .await
                .unwrap();
                out.extend(rows.unwrap_or_default().into_bytes());
            }
        }
        out
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// True when `needle`, or its hex form, occurs in `haystack`.
pub fn holds(haystack: &[u8], needle: &str) -> bool {
    let hex = hex::encode(needle.as_bytes());
    let found = |n: &[u8]| haystack.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    found(needle.as_bytes()) || found(hex.as_bytes())
}
