//! A real SMTP server on 127.0.0.1 for the mail tests: PyPI's `aiosmtpd`
//! (`tests/fixtures/smtp/sink.py`) with STARTTLS under a certificate made here
//! (rcgen: a test CA and a server certificate for 127.0.0.1), optional AUTH, and each
//! received message written to a folder this side reads. Stopped when dropped.
//! Also `printpark serve` as a process whose whole log (stderr) is kept.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use printpark::config::{Secret, SmtpSecurity, SmtpSettings};

/// The CA and the relay's certificate, as PEM files in a folder of their own.
pub struct TestCa {
    pub dir: tempfile::TempDir,
    pub ca_pem: String,
}

impl TestCa {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "PrintPark test mail CA");
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), leaf_key.serialize_pem()).unwrap();
        Self {
            ca_pem: ca.pem(),
            dir,
        }
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

/// The SMTP server and the messages it received.
pub struct SmtpSink {
    child: std::process::Child,
    pub port: u16,
    pub inbox: tempfile::TempDir,
    pub ca: TestCa,
}

impl SmtpSink {
    /// STARTTLS required; with `auth`, AUTH (after STARTTLS) required too.
    pub fn start(auth: Option<(&str, &str)>) -> Self {
        let ca = TestCa::new();
        let inbox = tempfile::tempdir().unwrap();
        let port = super::free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp/sink.py");
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(inbox.path())
            .arg("--cert")
            .arg(ca.dir.path().join("cert.pem"))
            .arg("--key")
            .arg(ca.dir.path().join("key.pem"));
        if let Some((user, password)) = auth {
            cmd.args(["--user", user, "--password", password]);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (tests/run.sh installs it)");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "the SMTP sink did not start");
        Self {
            child,
            port,
            inbox,
            ca,
        }
    }

    /// `[smtp]` settings for this server: STARTTLS, its CA, these credentials.
    pub fn settings(&self, auth: Option<(&str, &str)>) -> SmtpSettings {
        SmtpSettings {
            host: Some("127.0.0.1".into()),
            port: self.port,
            security: SmtpSecurity::StartTls,
            username: auth.map(|(u, _)| u.to_owned()),
            password: auth.map(|(_, p)| Secret::new(p)),
            from: Some("PrintPark <printpark@example.org>".into()),
            ca_file: Some(self.ca.ca_file()),
            timeout_secs: 10,
        }
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.inbox.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// Waits until message number `n` (from 1) has arrived and returns it.
    pub async fn wait_for_message(&self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "message {n} did not arrive; got {}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl SmtpSink {
    /// Stops the server (its CA and inbox stay until dropped).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The reset token of a reset mail's link (quoted-printable soft breaks undone).
pub fn reset_token_in(message: &str) -> String {
    let text = message.replace("=\r\n", "").replace("=3D", "=");
    let marker = "/reset-password?token=";
    let start = text.find(marker).expect("a reset link in the mail") + marker.len();
    text[start..start + 43].to_owned()
}

/// `printpark serve` as an operator runs it, with its whole log (stderr) kept in a file.
pub struct ServeWithLog {
    child: std::process::Child,
    pub log: PathBuf,
    pub base: String,
}

impl ServeWithLog {
    /// Runs `printpark <args>` over `data_dir` with these extra variables; waits for it.
    pub fn run(data_dir: &Path, env: &[(&str, String)], args: &[&str]) -> std::process::Output {
        let out = Self::command(data_dir, env).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn command(data_dir: &Path, env: &[(&str, String)]) -> std::process::Command {
        let mut cmd = std::process::Command::new(super::binary());
        for (key, _) in std::env::vars() {
            if key.starts_with("PRINTPARK_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("PRINTPARK_DATA_DIR", data_dir)
            .env("PRINTPARK_SERVER__LISTEN", "127.0.0.1:0")
            .env("PRINTPARK_DNSSD__ENABLED", "false")
            .env("PRINTPARK_LOG__FORMAT", "text")
            .env("PRINTPARK_SECURITY__ARGON2_MEMORY_KIB", "8192")
            .env("NO_COLOR", "1");
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd
    }

    /// Starts `printpark serve` (its log beside `data_dir`, in the same parent
    /// folder); returns once it listens.
    pub fn start(data_dir: &Path, env: &[(&str, String)]) -> Self {
        let log = data_dir
            .parent()
            .expect("a parent folder")
            .join("serve.log");
        let child = Self::command(data_dir, env)
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let marker = "PrintPark listening (HTTPS)";
        let base = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains(marker)) {
                let addr = line
                    .split("address=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .expect("the address in the listening line");
                break format!("https://{addr}");
            }
            assert!(
                Instant::now() < deadline,
                "the server did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self { child, log, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServeWithLog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- the mail tests' shared steps -------------------------------------------------

pub const RELAY_USER: &str = "printpark";
pub const RELAY_PASSWORD: &str = "relay secret 7d1e";

pub async fn server_with_relay(backend: super::Backend, sink: &SmtpSink) -> super::TestServer {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        super::Backend::Sqlite => super::sqlite_url(dir.path()),
        super::Backend::Postgres => super::fresh_postgres_url().await,
    };
    let smtp = sink.settings(Some((RELAY_USER, RELAY_PASSWORD)));
    super::TestServer::start_with(dir, move |d| {
        let mut s = super::settings(d, &url);
        s.smtp = smtp;
        s
    })
    .await
}

/// Runs one SQL statement on whichever backend the server uses.
pub async fn sql(db: &printpark::db::Db, statement: &str) {
    match db {
        printpark::db::Db::Sqlite(pool) => sqlx::query(statement).execute(pool).await.map(|_| ()),
        printpark::db::Db::Postgres(pool) => sqlx::query(statement).execute(pool).await.map(|_| ()),
    }
    .unwrap();
}

pub async fn audit(server: &super::TestServer, action: &str) -> Vec<printpark::db::AuditEntry> {
    server
        .services
        .db
        .audit_page(None, 200, Some(action))
        .await
        .unwrap()
}

/// Waits for an audit row of `action` whose detail contains `needle`.
pub async fn wait_audit(
    server: &super::TestServer,
    action: &str,
    needle: &str,
) -> printpark::db::AuditEntry {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(row) = audit(server, action)
            .await
            .into_iter()
            .find(|r| r.detail.contains(needle))
        {
            return row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {action} with {needle}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Asks for a reset link as a stranger's browser does; returns the answer page.
pub async fn ask_reset(
    server_url: &dyn Fn(&str) -> String,
    client: &reqwest::Client,
    who: &str,
) -> String {
    let page = super::get_text(client, server_url("/forgot-password")).await;
    let csrf = super::csrf_of(&page);
    let response = client
        .post(server_url("/forgot-password"))
        .form(&[("csrf", csrf.as_str()), ("login", who)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Opens a reset link and sets `password` through its form; returns the answer.
pub async fn use_link(
    server_url: &dyn Fn(&str) -> String,
    client: &reqwest::Client,
    token: &str,
    password: &str,
) -> reqwest::Response {
    let page = client
        .get(server_url(&format!("/reset-password?token={token}")))
        .send()
        .await
        .unwrap();
    let mut page = page.text().await.unwrap_or_default();
    if !page.contains("name=\"csrf\"") {
        // A used or expired link's page has no form: this browser's token is the same
        // on any page before sign-in.
        page = super::get_text(client, server_url("/forgot-password")).await;
    }
    let csrf = super::csrf_of(&page);
    client
        .post(server_url("/reset-password"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token),
            ("password", password),
            ("password_again", password),
        ])
        .send()
        .await
        .unwrap()
}
