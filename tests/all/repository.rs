//! The repository suite: the same cases against SQLite and against a real Postgres.

use crate::support;

use printpark::clock::now;
use printpark::db::{AuditRecord, Db, DbError, NewJob, NewUser};
use support::Backend;

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                let dir = tempfile::tempdir().unwrap();
                super::$case(super::support::database(super::Backend::Sqlite, dir.path()).await).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                let dir = tempfile::tempdir().unwrap();
                super::$case(super::support::database(super::Backend::Postgres, dir.path()).await).await;
            })*
        }
    };
}

on_both_backends!(
    users_are_unique_by_username_and_email,
    users_are_found_by_username_or_email,
    sessions_slide_and_expire,
    login_failures_count_up_and_clear,
    app_passwords_are_found_by_hash_until_revoked,
    audit_log_pages_newest_first_and_filters_by_action,
    wrapped_keys_are_replaced_all_at_once,
    vault_meta_keeps_the_first_value_written,
    jobs_are_listed_by_owner_and_finishing_detaches_the_blob,
    deleting_a_user_removes_their_sessions_app_passwords_and_jobs,
    migrations_run_twice_without_harm,
);

async fn user(db: &Db, name: &str) -> printpark::db::UserRow {
    db.insert_user(&NewUser {
        username: name,
        email: &format!("{name}@example.org"),
        name: "Someone",
        department: "Ops",
        role: "user",
        password_hash: Some("$argon2id$fake"),
    })
    .await
    .unwrap()
}

async fn users_are_unique_by_username_and_email(db: Db) {
    let ada = user(&db, "ada").await;
    assert_eq!(ada.username, "ada");
    assert!(!ada.disabled);
    let clash = db
        .insert_user(&NewUser {
            username: "ada",
            email: "other@example.org",
            name: "",
            department: "",
            role: "user",
            password_hash: None,
        })
        .await;
    assert!(matches!(clash, Err(DbError::Conflict(_))), "{clash:?}");
    let clash = db
        .insert_user(&NewUser {
            username: "other",
            email: "ada@example.org",
            name: "",
            department: "",
            role: "user",
            password_hash: None,
        })
        .await;
    assert!(matches!(clash, Err(DbError::Conflict(_))), "{clash:?}");
    assert_eq!(db.count_users().await.unwrap(), 1);
    assert_eq!(db.count_admins().await.unwrap(), 0);
}

async fn users_are_found_by_username_or_email(db: Db) {
    let ada = user(&db, "ada").await;
    assert_eq!(db.user_by_login("ada").await.unwrap().id, ada.id);
    assert_eq!(
        db.user_by_login("ada@example.org").await.unwrap().id,
        ada.id
    );
    assert!(matches!(
        db.user_by_login("nobody").await,
        Err(DbError::NotFound)
    ));
    db.set_user_disabled(ada.id, true).await.unwrap();
    db.set_pin_hash(ada.id, Some("$argon2id$pin"))
        .await
        .unwrap();
    let again = db.user_by_id(ada.id).await.unwrap();
    assert!(again.disabled);
    assert_eq!(again.pin_hash.as_deref(), Some("$argon2id$pin"));
    assert!(matches!(
        db.set_user_disabled(9999, true).await,
        Err(DbError::NotFound)
    ));
}

async fn sessions_slide_and_expire(db: Db) {
    let ada = user(&db, "ada").await;
    db.insert_session(b"live", ada.id, "browser", now() + 60, "127.0.0.1", "test")
        .await
        .unwrap();
    db.insert_session(b"dead", ada.id, "browser", now() - 1, "127.0.0.1", "test")
        .await
        .unwrap();
    let touched = db
        .touch_session(b"live", "browser", Some(now() + 3600))
        .await
        .unwrap();
    assert_eq!(touched.user_id, ada.id);
    assert!(touched.expires_at >= now() + 3500);
    assert!(matches!(
        db.touch_session(b"dead", "browser", None).await,
        Err(DbError::NotFound)
    ));
    assert_eq!(db.delete_expired_sessions().await.unwrap(), 1);
    db.delete_session(b"live").await.unwrap();
    assert!(db.touch_session(b"live", "browser", None).await.is_err());
}

async fn login_failures_count_up_and_clear(db: Db) {
    assert!(db.login_failure("ada").await.unwrap().is_none());
    for expected in 1..=3 {
        assert_eq!(db.record_login_failure("ada").await.unwrap(), expected);
    }
    db.lock_login_until("ada", now() + 60).await.unwrap();
    let row = db.login_failure("ada").await.unwrap().unwrap();
    assert_eq!(row.failures, 3);
    assert!(row.locked_until > now());
    db.clear_login_failures("ada").await.unwrap();
    assert!(db.login_failure("ada").await.unwrap().is_none());
}

async fn app_passwords_are_found_by_hash_until_revoked(db: Db) {
    let ada = user(&db, "ada").await;
    let made = db
        .insert_app_password(ada.id, "phone", b"hash-1")
        .await
        .unwrap();
    let used = db.use_app_password(b"hash-1").await.unwrap();
    assert_eq!(used.id, made.id);
    assert!(used.last_used_at.is_some());
    assert!(db.use_app_password(b"hash-2").await.is_err());
    // Another user cannot revoke it.
    let bob = user(&db, "bob").await;
    assert!(matches!(
        db.revoke_app_password(bob.id, made.id).await,
        Err(DbError::NotFound)
    ));
    db.revoke_app_password(ada.id, made.id).await.unwrap();
    assert!(db.use_app_password(b"hash-1").await.is_err());
    let listed = db.app_passwords_of(ada.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_at.is_some());
}

async fn audit_log_pages_newest_first_and_filters_by_action(db: Db) {
    for i in 0..5 {
        let action = if i % 2 == 0 {
            "auth.login"
        } else {
            "user.create"
        };
        db.append_audit(&AuditRecord {
            actor: "ada",
            action,
            target: &i.to_string(),
            outcome: "success",
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let page = db.audit_page(None, 3, None).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
        ["4", "3", "2"]
    );
    let older = db.audit_page(Some(page[2].id), 3, None).await.unwrap();
    assert_eq!(
        older.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
        ["1", "0"]
    );
    let logins = db.audit_page(None, 10, Some("auth.")).await.unwrap();
    assert_eq!(logins.len(), 3);
    assert!(logins.iter().all(|e| e.action == "auth.login"));
}

async fn wrapped_keys_are_replaced_all_at_once(db: Db) {
    db.insert_sealed_blob("a", b"wrapped-a", "old", 10, 42)
        .await
        .unwrap();
    db.insert_sealed_blob("b", b"wrapped-b", "old", 20, 52)
        .await
        .unwrap();
    let keys = vec![
        ("a".to_string(), b"new-a".to_vec()),
        ("b".to_string(), b"new-b".to_vec()),
    ];
    db.rewrap_all(&keys, "new", &[("key_check", b"check".to_vec())])
        .await
        .unwrap();
    let a = db.sealed_blob("a").await.unwrap();
    assert_eq!(
        (a.wrapped_key.as_slice(), a.kek_id.as_str()),
        (&b"new-a"[..], "new")
    );
    assert_eq!(
        db.vault_meta("key_check").await.unwrap().as_deref(),
        Some(&b"check"[..])
    );
    assert_eq!(db.all_wrapped_keys().await.unwrap().len(), 2);
    db.delete_sealed_blob("a").await.unwrap();
    assert!(matches!(db.sealed_blob("a").await, Err(DbError::NotFound)));
    assert_eq!(db.sealed_blob_ids().await.unwrap(), ["b"]);
}

async fn vault_meta_keeps_the_first_value_written(db: Db) {
    assert_eq!(
        db.init_vault_meta("salt", b"first").await.unwrap(),
        b"first"
    );
    assert_eq!(
        db.init_vault_meta("salt", b"second").await.unwrap(),
        b"first"
    );
    db.delete_vault_meta("salt").await.unwrap();
    assert!(db.vault_meta("salt").await.unwrap().is_none());
}

fn job<'a>(uuid: &'a str, owner_id: i64, blob: &'a str) -> NewJob<'a> {
    NewJob {
        uuid,
        owner_id,
        name: "report.pdf",
        format: "application/pdf",
        pages: Some(3),
        color: Some(false),
        color_mode: "auto",
        copies: 1,
        sides: "one-sided",
        size_bytes: 1234,
        source: "portal",
        client_addr: "127.0.0.1",
        state: "held",
        blob_id: Some(blob),
        submitted_at: now(),
        expires_at: now() + 3600,
        analysis_note: None,
        page_ranges: None,
    }
}

async fn jobs_are_listed_by_owner_and_finishing_detaches_the_blob(db: Db) {
    let ada = user(&db, "ada").await;
    let bob = user(&db, "bob").await;
    db.insert_sealed_blob("blob-1", b"k", "kek", 1, 1)
        .await
        .unwrap();
    db.insert_sealed_blob("blob-2", b"k", "kek", 1, 1)
        .await
        .unwrap();
    let first = db
        .insert_job(&job("job-1", ada.id, "blob-1"))
        .await
        .unwrap();
    db.insert_job(&job("job-2", bob.id, "blob-2"))
        .await
        .unwrap();
    assert_eq!(first.pages, Some(3));
    assert_eq!(first.color, Some(false));
    let mine = db.jobs_of_owner(ada.id, Some("held")).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].uuid, "job-1");
    assert_eq!(db.count_jobs_in_state("held").await.unwrap(), 2);
    db.finish_job(first.id, "deleted", now()).await.unwrap();
    let done = db.job_by_id(first.id).await.unwrap();
    assert_eq!(
        (done.state.as_str(), done.blob_id.as_deref()),
        ("deleted", None)
    );
    assert!(done.finished_at.is_some());
    assert!(
        db.jobs_of_owner(ada.id, Some("held"))
            .await
            .unwrap()
            .is_empty()
    );
    // The blob record is now unreferenced and may go.
    db.delete_sealed_blob("blob-1").await.unwrap();
}

async fn deleting_a_user_removes_their_sessions_app_passwords_and_jobs(db: Db) {
    let ada = user(&db, "ada").await;
    db.insert_session(b"s", ada.id, "browser", now() + 60, "", "")
        .await
        .unwrap();
    db.insert_app_password(ada.id, "phone", b"h").await.unwrap();
    db.insert_sealed_blob("blob", b"k", "kek", 1, 1)
        .await
        .unwrap();
    let j = db.insert_job(&job("job", ada.id, "blob")).await.unwrap();
    db.finish_job(j.id, "deleted", now()).await.unwrap();
    db.delete_user(ada.id).await.unwrap();
    assert!(db.touch_session(b"s", "browser", None).await.is_err());
    assert!(db.use_app_password(b"h").await.is_err());
    assert!(matches!(db.job_by_id(j.id).await, Err(DbError::NotFound)));
    assert!(matches!(
        db.delete_user(ada.id).await,
        Err(DbError::NotFound)
    ));
}

async fn migrations_run_twice_without_harm(db: Db) {
    user(&db, "ada").await;
    db.migrate().await.unwrap();
    assert_eq!(db.count_users().await.unwrap(), 1);
    db.ping().await.unwrap();
}
