//! `printpark admin reset-password` (issue 16, accounts): the real binary, the password
//! on its standard input, while the server runs on the same database (SQLite and
//! Postgres).

use crate::support;

use super::accounts::{ADMIN_PASSWORD, signed_in, world};
use support::sign_in::audit;
use support::{Backend, login};

mod sqlite {
    #[tokio::test]
    async fn the_operator_resets_a_password_from_the_command_line_while_the_server_runs() {
        super::the_operator_resets_a_password_from_the_command_line_while_the_server_runs(
            super::Backend::Sqlite,
        )
        .await;
    }
}

mod postgres {
    #[tokio::test]
    async fn the_operator_resets_a_password_from_the_command_line_while_the_server_runs() {
        super::the_operator_resets_a_password_from_the_command_line_while_the_server_runs(
            super::Backend::Postgres,
        )
        .await;
    }
}

async fn the_operator_resets_a_password_from_the_command_line_while_the_server_runs(
    backend: Backend,
) {
    let w = world(backend).await;
    // The admin is locked out by wrong passwords.
    // Different ones: the same wrong password again is a retry, counted once (issue 20).
    for i in 0..w.server.services.settings.security.lockout_threshold {
        login(
            &w.server,
            &w.server.client(),
            "boss",
            &format!("not the password! {i}"),
        )
        .await;
    }
    assert_eq!(
        login(&w.server, &w.server.client(), "boss", ADMIN_PASSWORD)
            .await
            .status(),
        429
    );
    let database = w
        .server
        .services
        .settings
        .database
        .url
        .as_ref()
        .unwrap()
        .expose()
        .to_owned();
    let run = |input: &'static str, who: &'static str| {
        let dir = w.server.dir.path().to_owned();
        let database = database.clone();
        async move {
            let mut child = tokio::process::Command::new(support::binary())
                .args(["admin", "reset-password", who])
                .current_dir(&dir)
                .env("PRINTPARK_DATA_DIR", &dir)
                .env("PRINTPARK_DATABASE__URL", &database)
                .env("PRINTPARK_SECURITY__ARGON2_MEMORY_KIB", "8192")
                .env("PRINTPARK_LOG__LEVEL", "warn")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use tokio::io::AsyncWriteExt;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(input.as_bytes()).await.unwrap();
            drop(stdin);
            child.wait_with_output().await.unwrap()
        }
    };
    let short = run("short\n", "boss").await;
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10"));
    let nobody = run("a long enough password\n", "nobody").await;
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no account nobody"));
    let done = run("the operator's new password\n", "boss").await;
    let (out, err) = (
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr),
    );
    assert!(done.status.success(), "{out}\n{err}");
    assert!(out.contains("password of admin boss reset"), "{out}");
    // The running server takes it at once: lock-out cleared, no forced change.
    let admin = signed_in(&w.server, "boss", "the operator's new password").await;
    assert_eq!(
        admin
            .get(w.server.url("/admin"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let audited = audit(&w.server, "user.reset_password").await;
    assert_eq!(
        (audited[0].actor.as_str(), audited[0].target.as_str()),
        ("system", "boss")
    );
    w.server.stop().await;
}
