//! The binary as an operator meets it: zero-config start, clear start-up errors,
//! database retry, graceful shutdown, and the operator commands.

use crate::support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use printpark::vault::BlobId;

fn printpark(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(support::binary());
    cmd.current_dir(dir)
        .env("PRINTPARK_LOG__FORMAT", "text")
        .env("NO_COLOR", "1");
    for (key, _) in std::env::vars() {
        if key.starts_with("PRINTPARK_") && key != "PRINTPARK_LOG__FORMAT" {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run printpark");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_settings_stop_the_start_with_one_message_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "PRINTPARK_SERVER__LISTEN",
            "nowhere",
            &["server.listen", "nowhere"],
        ),
        (
            "PRINTPARK_SECURITY__LOCKOUT_THRESHOLD",
            "many",
            &[
                "security.lockout_threshold",
                "PRINTPARK_SECURITY__LOCKOUT_THRESHOLD",
            ],
        ),
        ("PRINTPARK_SERVR__LISTEN", "0.0.0.0:1", &["servr"]),
    ];
    for (key, value, expected) in cases {
        let (code, _, stderr) = run(printpark(dir.path()).arg("serve").env(key, value));
        assert_eq!(code, 2, "{key}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one message: {stderr}");
        for needle in expected {
            assert!(
                stderr.contains(needle),
                "{key}: {stderr:?} should name {needle}"
            );
        }
    }
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[storage]\nbackend = \"s3\"\n").unwrap();
    let (code, _, stderr) =
        run(printpark(dir.path()).args(["--config", file.to_str().unwrap(), "serve"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("storage.s3.bucket"), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created before settings are valid"
    );
}

#[test]
fn an_unreachable_database_is_retried_then_reported_without_leaking_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let started = Instant::now();
    let (code, _, stderr) = run(printpark(dir.path())
        .arg("migrate")
        .env(
            "PRINTPARK_DATABASE__URL",
            format!("postgres://pp:hunter2@127.0.0.1:{port}/pp"),
        )
        .env("PRINTPARK_DATABASE__CONNECT_TIMEOUT_SECS", "4"));
    assert_eq!(code, 1, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let last = stderr.trim().lines().last().unwrap();
    assert!(
        last.contains("database unreachable") && last.contains("gave up"),
        "{last}"
    );
    assert!(!stderr.contains("hunter2"), "password leaked: {stderr}");
    let retries = stderr.matches("retrying").count();
    assert!(
        (1..=3).contains(&retries),
        "backoff, not a flood: {retries} retry lines"
    );
}

#[tokio::test]
async fn a_database_that_comes_up_during_the_retries_is_used() {
    // A TCP relay to the test Postgres that starts listening only after 2 s.
    let target = url::Url::parse(&support::fresh_postgres_url().await).unwrap();
    let upstream = format!("{}:{}", target.host_str().unwrap(), target.port().unwrap());
    let port = support::free_port();
    let mut url = target.clone();
    url.set_port(Some(port)).unwrap();
    let relay = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        loop {
            let (mut inbound, _) = listener.accept().await.unwrap();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = printpark(dir.path());
    cmd.arg("migrate")
        .env("PRINTPARK_DATABASE__URL", url.as_str())
        .env("PRINTPARK_DATABASE__CONNECT_TIMEOUT_SECS", "30");
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    relay.abort();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("retrying"), "{stderr}");
    assert!(stdout.contains("migrations applied (postgres)"), "{stdout}");
}

struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(dir: &std::path::Path, port: u16) -> Running {
    let child = printpark(dir)
        .arg("serve")
        .env("PRINTPARK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Running(child)
}

async fn wait_healthy(port: u16) {
    let client = support::insecure_client();
    for _ in 0..300 {
        if let Ok(r) = client
            .get(format!("https://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server did not become healthy");
}

fn terminate_and_wait(mut server: Running) -> (std::process::ExitStatus, String) {
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(server.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            return (status, stderr);
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "no graceful stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn zero_config_start_serves_first_run_over_https_keeps_its_certificate_and_stops_on_sigterm()
{
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let server = start_server(dir.path(), port);
    wait_healthy(port).await;
    let client = support::insecure_client();
    let setup = client
        .get(format!("https://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap();
    assert!(setup.url().path().ends_with("/setup"));
    assert!(
        setup
            .text()
            .await
            .unwrap()
            .contains("Create the first administrator")
    );
    for file in [
        "data/printpark.db",
        "data/master.key",
        "data/tls/cert.pem",
        "data/tls/key.pem",
    ] {
        assert!(dir.path().join(file).exists(), "{file} made on first start");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data/master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "master key readable by owner only");
    }
    let cert = std::fs::read(dir.path().join("data/tls/cert.pem")).unwrap();
    let key = std::fs::read(dir.path().join("data/master.key")).unwrap();
    let (code, _, stderr) = run(printpark(dir.path()).args([
        "healthcheck",
        "--url",
        &format!("https://127.0.0.1:{port}/healthz"),
    ]));
    assert_eq!(code, 0, "healthcheck: {stderr}");

    let (status, stderr) = terminate_and_wait(server);
    assert!(status.success(), "graceful exit: {status:?}\n{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");

    let server = start_server(dir.path(), port);
    wait_healthy(port).await;
    assert_eq!(
        std::fs::read(dir.path().join("data/tls/cert.pem")).unwrap(),
        cert,
        "certificate reused"
    );
    assert_eq!(
        std::fs::read(dir.path().join("data/master.key")).unwrap(),
        key,
        "master key reused"
    );
    let (status, _) = terminate_and_wait(server);
    assert!(status.success());
}

#[test]
fn admin_commands_migrate_and_create_users_with_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(printpark(dir.path()).arg("migrate"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("migrations applied (sqlite)"));

    let create = |args: &[&str], stdin: &str| {
        let mut child = printpark(dir.path())
            .args(["admin", "create-user"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = create(
        &[
            "--username",
            "root",
            "--email",
            "root@example.org",
            "--name",
            "Root",
            "--admin",
        ],
        "stdin password 1\n",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("created admin root <root@example.org>"),
        "{stdout}"
    );
    assert!(!stdout.contains("stdin password") && !stderr.contains("stdin password"));
    let (code, _, stderr) = create(
        &["--username", "shorty", "--email", "s@example.org"],
        "short\n",
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("at least 10 characters"), "{stderr}");
    let (code, _, stderr) = create(
        &[
            "--username",
            "root",
            "--email",
            "other@example.org",
            "--password",
            "long enough pw",
        ],
        "",
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("already taken"), "{stderr}");
}

#[tokio::test]
async fn rotate_master_key_replaces_the_key_file_and_every_document_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = support::settings(
        &dir.path().join("data"),
        "sqlite://./data/printpark.db?mode=rwc",
    );
    settings.data_dir = dir.path().join("data");
    settings.database.url = Some(printpark::config::Secret::new(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("data/printpark.db").display()
    )));
    let services = printpark::services::Services::start(settings.clone())
        .await
        .unwrap();
    let id = BlobId::random();
    services
        .vault
        .seal(&id, &mut &b"before rotation"[..])
        .await
        .unwrap();
    let old_key = std::fs::read_to_string(settings.master_key_path()).unwrap();
    services.db.close().await;

    let (code, stdout, stderr) = run(printpark(dir.path()).args(["admin", "rotate-master-key"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("re-wrapped 1 data key(s)"), "{stdout}");
    let new_key = std::fs::read_to_string(settings.master_key_path()).unwrap();
    assert_ne!(old_key, new_key);
    assert!(
        !stdout.contains(new_key.trim()) && !stderr.contains(new_key.trim()),
        "the key itself is not printed"
    );

    let reopened = printpark::services::Services::start(settings)
        .await
        .unwrap();
    let mut reader = reopened.vault.open_blob(&id).await.unwrap();
    let mut out = Vec::new();
    reader.copy_to(&mut out).await.unwrap();
    assert_eq!(out, b"before rotation");
}

#[tokio::test]
async fn a_server_killed_mid_upload_keeps_no_job_and_the_sweep_removes_the_partial_blob() {
    use printpark::ipp::wire::{Attribute, Group, Message, Value, group, tag};
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(printpark(dir.path()).args([
        "admin",
        "create-user",
        "--username",
        "ann",
        "--email",
        "ann@example.org",
        "--password",
        "ann password 1",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let port = support::free_port();
    let server = start_server(dir.path(), port);
    wait_healthy(port).await;

    // A Print-Job whose document arrives slowly, 1 MiB at a time.
    let mut operation = Group::new(group::OPERATION);
    operation.push(Attribute::new(
        "attributes-charset",
        Value::String(tag::CHARSET, "utf-8".into()),
    ));
    operation.push(Attribute::new(
        "attributes-natural-language",
        Value::String(tag::LANGUAGE, "en".into()),
    ));
    operation.push(Attribute::new(
        "printer-uri",
        Value::uri(&format!("ipps://127.0.0.1:{port}/ipp/print")),
    ));
    let header = printpark::ipp::wire::encode(&Message {
        version: (2, 0),
        code: printpark::ipp::op::PRINT_JOB,
        request_id: 1,
        groups: vec![operation],
    });
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let client = support::insecure_client();
    let upload = tokio::spawn(
        client
            .post(format!("https://127.0.0.1:{port}/ipp/print"))
            .basic_auth("ann", Some("ann password 1"))
            .header("content-type", "application/ipp")
            .body(body)
            .send(),
    );
    tx.send(Ok(header)).await.unwrap();
    let blobs = dir.path().join("data/blobs");
    let mut sent = 0;
    // Send until the store has started writing the sealed upload to disk.
    while !support::files_under(&blobs)
        .iter()
        .any(|p| p.to_string_lossy().contains('#'))
    {
        assert!(
            sent < 200,
            "no upload staging file appeared after {sent} MiB"
        );
        tx.send(Ok(vec![0x5a; 1024 * 1024])).await.unwrap();
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    drop(server);
    drop(tx);
    assert!(
        upload.await.unwrap().is_err(),
        "the upload cannot have succeeded"
    );

    // Restart: no job was indexed, and the sweep removes the partial blob.
    let restarted = printpark(dir.path())
        .arg("serve")
        .env("PRINTPARK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("PRINTPARK_STORAGE__SWEEP_MIN_AGE_SECS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let restarted = Running(restarted);
    wait_healthy(port).await;
    let mut left = support::files_under(&blobs);
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = support::files_under(&blobs);
    }
    assert!(left.is_empty(), "partial upload left behind: {left:?}");
    let db = printpark::db::Db::connect(
        &format!(
            "sqlite://{}",
            dir.path().join("data/printpark.db").display()
        ),
        1,
    )
    .await
    .unwrap();
    let ann = db.user_by_login("ann").await.unwrap();
    assert!(
        db.jobs_of_owner(ann.id, None).await.unwrap().is_empty(),
        "no job row for the killed upload"
    );
    assert!(db.sealed_blob_ids().await.unwrap().is_empty());
    let (status, _) = terminate_and_wait(restarted);
    assert!(status.success());
}

#[tokio::test]
async fn a_server_killed_mid_delivery_leaves_the_job_needing_attention_and_never_sends_it_again() {
    use printpark::identity::{ClientInfo, NewUserRequest};
    use support::printer::{FakeBehaviour, FakePrinter, FakeStatus};
    let dir = tempfile::tempdir().unwrap();
    let printer = FakePrinter::start(FakeBehaviour::StallOnJob {
        status: FakeStatus::idle(),
        after: 100_000,
    });
    // Set up as an admin would (user with a PIN, a printer, a held job), in-process on
    // the same data directory the binary then serves.
    let guid = {
        let mut settings = printpark::config::Settings {
            data_dir: dir.path().join("data"),
            ..Default::default()
        };
        settings.queue.analyser_exe = Some(support::binary());
        let services = printpark::services::Services::start(settings)
            .await
            .unwrap();
        let client = ClientInfo::default();
        let identity = &services.identity;
        let admin = support::create_admin(identity).await;
        let ann = identity
            .create_user(
                None,
                &NewUserRequest {
                    username: "ann".into(),
                    email: "ann@example.org".into(),
                    password: Some("ann password 1".into()),
                    ..Default::default()
                },
                &client,
            )
            .await
            .unwrap();
        identity
            .set_own_pin(&ann, "ann password 1", "246813", &client)
            .await
            .unwrap();
        let mut document = b"%PDF-1.4\n".to_vec();
        document.resize(4_000_000, b'x');
        services
            .jobs
            .park(
                &ann,
                &printpark::jobs::Submission {
                    name: "big.pdf",
                    format: "application/pdf",
                    copies: 1,
                    sides: printpark::jobs::Sides::OneSided,
                    source: "portal",
                    compression: printpark::jobs::Compression::None,
                    color_mode: printpark::jobs::ColorMode::Auto,
                    accept: None,
                    page_ranges: None,
                },
                &mut &document[..],
                &client,
            )
            .await
            .unwrap();
        let row = services
            .printers
            .add(
                &admin,
                &printpark::release::PrinterForm {
                    name: "Stuck".into(),
                    uri: printer.uri(),
                    ..Default::default()
                },
                &client,
            )
            .await
            .unwrap();
        services.db.close().await;
        row.guid
    };
    let port = support::free_port();
    let serve = |port: u16| {
        Running(
            printpark(dir.path())
                .arg("serve")
                .env("PRINTPARK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
                .env("PRINTPARK_RELEASE__LEASE_SECS", "3")
                .env("PRINTPARK_DNSSD__ENABLED", "false")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    let server = serve(port);
    wait_healthy(port).await;

    // Ann presses Print all at the station; the printer takes 100 kB and stalls.
    let station = reqwest::Client::builder()
        .cookie_store(true)
        .tls_danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}/station/{guid}");
    let page = support::get_text(&station, base.clone()).await;
    let signed = station
        .post(format!("{base}/pin"))
        .form(&[
            ("csrf", support::csrf_of(&page).as_str()),
            ("login", "ann"),
            ("pin", "246813"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let page = support::get_text(&station, base.clone()).await;
    let pressed = station
        .post(format!("{base}/print-all"))
        .form(&[("csrf", support::csrf_of(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(pressed.status(), 303);
    let started = Instant::now();
    while printer.body_bytes() < 100_000 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the delivery never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Killed mid-delivery.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    drop(server);

    let restarted = serve(port);
    wait_healthy(port).await;
    let db = printpark::db::Db::connect(
        &format!(
            "sqlite://{}",
            dir.path().join("data/printpark.db").display()
        ),
        1,
    )
    .await
    .unwrap();
    let ann = db.user_by_login("ann").await.unwrap();
    let started = Instant::now();
    let release = loop {
        let rows = db.releases_of_user(ann.id, 0).await.unwrap();
        if rows[0].state == printpark::release::ReleaseState::NeedsAttention {
            break rows[0].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still {:?}",
            rows[0]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        release.reason.contains("may have printed"),
        "{}",
        release.reason
    );
    let job = db.job_by_id(release.job_id).await.unwrap();
    assert_eq!(job.state, "needs-attention");
    assert!(
        job.blob_id.is_some(),
        "the document is kept until an admin decides"
    );
    // The restarted server does not send it again. Its lease sweep has looked at the
    // cut-off delivery (the audit row it writes with the mark), and no worker of it
    // claimed the release: a worker sends only what it claimed, and a claim counts an
    // attempt (the killed server's was the one).
    let target = format!("release {}", release.id);
    let started = Instant::now();
    while !db
        .audit_page(None, 50, Some("release.needs_attention"))
        .await
        .unwrap()
        .iter()
        .any(|a| a.target == target)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the sweep's audit row for {target} never came"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let release = db.release_by_id(release.id).await.unwrap();
    assert_eq!(
        (release.state.as_str(), release.attempts),
        ("needs-attention", 1),
        "{release:?}"
    );
    let print_jobs = printer
        .operations()
        .iter()
        .filter(|op| **op == 0x0002)
        .count();
    assert_eq!(print_jobs, 1, "{:?}", printer.operations());
    let (status, _) = terminate_and_wait(restarted);
    assert!(status.success());
}
