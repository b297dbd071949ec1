//! Test peers and a real server on an ephemeral port.
//!
//! Postgres and S3 come from the environment that `tests/run.sh` prepares
//! (`TEST_DATABASE_URL`, `TEST_S3_ENDPOINT`): a throwaway cluster and a moto server
//! on 127.0.0.1. Each test gets its own database and bucket.

#![allow(dead_code)]

pub mod agent;
pub mod browser;
pub mod doors;
pub mod hostile;
pub mod hostile_printer;
pub mod infra_device;
pub mod netns;
pub mod oidc;
pub mod printer;
pub mod sign_in;
// issue 16, e-mail: a real SMTP server (aiosmtpd)
pub mod slapd;
pub mod smtp;
pub mod snmp;
// Issue 17, push: a raw 9100 printer that keeps the bytes of each connection.
pub mod raw_printer;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use printpark::config::{Secret, Settings, StorageBackend};
use printpark::db::Db;
use printpark::services::Services;

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with tests/run.sh, which starts the peers, or set {name} yourself")
    })
}

/// A fresh, empty Postgres database on the test cluster; returns its URL.
pub async fn fresh_postgres_url() -> String {
    let admin = required_env("TEST_DATABASE_URL");
    let name = unique("pp_test");
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("test.db").display())
}

/// A migrated database of the given backend.
pub async fn database(backend: Backend, dir: &Path) -> Db {
    let url = match backend {
        Backend::Sqlite => sqlite_url(dir),
        Backend::Postgres => fresh_postgres_url().await,
    };
    let db = Db::connect(&url, 5).await.expect("connect");
    db.migrate().await.expect("migrate");
    db
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Creates a bucket on the moto server and returns its S3 endpoint.
pub async fn fresh_s3_bucket() -> (String, String) {
    let endpoint = required_env("TEST_S3_ENDPOINT");
    let bucket = unique("pp").replace('_', "-");
    let response = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("moto reachable");
    assert!(
        response.status().is_success(),
        "create bucket: {}",
        response.status()
    );
    (endpoint, bucket)
}

/// Settings for tests: temp data dir, cheap Argon2, given database and storage.
pub fn settings(dir: &Path, database_url: &str) -> Settings {
    let mut s = Settings {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    s.server.listen = "127.0.0.1:0".into();
    s.server.workers = 1;
    s.database.url = Some(Secret::new(database_url));
    s.database.connect_timeout_secs = 10;
    s.security.argon2_memory_kib = 8 * 1024;
    s.security.argon2_iterations = 1;
    s.log.level = "warn".into();
    s.queue.analyser_exe = Some(binary());
    s
}

pub fn use_s3(settings: &mut Settings, endpoint: &str, bucket: &str) {
    settings.storage.backend = StorageBackend::S3;
    settings.storage.s3.endpoint = Some(endpoint.into());
    settings.storage.s3.bucket = bucket.into();
    settings.storage.s3.path_style = true;
    settings.storage.s3.access_key_id = Some(Secret::new("testing"));
    settings.storage.s3.secret_access_key = Some(Secret::new("testing"));
}

/// A real PrintPark server (TLS) on 127.0.0.1 and an ephemeral port.
pub struct TestServer {
    pub services: Services,
    pub base: String,
    pub dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
    /// The release orchestrator's delivery workers, as `printpark serve` runs them.
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match backend {
            Backend::Sqlite => sqlite_url(dir.path()),
            Backend::Postgres => fresh_postgres_url().await,
        };
        Self::start_with(dir, settings_for_dir(&url)).await
    }

    pub async fn start_with(
        dir: tempfile::TempDir,
        configure: impl FnOnce(&Path) -> Settings,
    ) -> Self {
        Self::start_on(dir, configure, "127.0.0.1:0".parse().unwrap()).await
    }

    /// Listens on `addr` (an address a network namespace reaches, or the port a
    /// restarted server must keep).
    pub async fn start_on(
        dir: tempfile::TempDir,
        configure: impl FnOnce(&Path) -> Settings,
        addr: std::net::SocketAddr,
    ) -> Self {
        let settings = configure(dir.path());
        let services = Services::start(settings).await.expect("services start");
        let listener = TcpListener::bind(addr).expect("bind");
        let (server, addr) = printpark::web::serve_on(services.clone(), listener).expect("serve");
        let handle = server.handle();
        tokio::spawn(server);
        let workers = services.release.spawn_workers();
        Self {
            services,
            base: format!("https://{addr}"),
            dir,
            handle,
            workers,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser-like client: keeps cookies, accepts the self-signed certificate,
    /// does not follow redirects (tests look at them).
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .tls_danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    pub async fn stop(self) {
        for worker in &self.workers {
            worker.abort();
        }
        self.handle.stop(true).await;
    }

    /// Stops the server as a crash would leave its data: the data dir (database,
    /// sealed files, certificate, keys) is handed back for a restart.
    pub async fn stop_keeping_data(self) -> tempfile::TempDir {
        for worker in &self.workers {
            worker.abort();
        }
        self.handle.stop(false).await;
        self.services.db.close().await;
        self.dir
    }
}

fn settings_for_dir(url: &str) -> impl FnOnce(&Path) -> Settings + '_ {
    move |dir| settings(dir, url)
}

/// A client for API and IPP calls: no cookies, accepts the self-signed certificate.
pub fn insecure_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .build()
        .expect("client")
}

/// Posts a form and returns the page it answers with.
pub async fn post_text(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> String {
    client
        .post(url)
        .form(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the first `name="csrf"` hidden field in a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// Text between two markers, for picking once-shown secrets out of pages.
pub fn between<'a>(html: &'a str, before: &str, after: &str) -> &'a str {
    let start = html
        .find(before)
        .unwrap_or_else(|| panic!("{before} not in page"))
        + before.len();
    let end = html[start..].find(after).expect("end marker") + start;
    &html[start..end]
}

/// Walks the first-run page: creates admin `admin` / `correct horse battery` and
/// leaves `client` signed in.
pub async fn first_admin(server: &TestServer, client: &reqwest::Client) {
    let page = get_text(client, server.url("/setup")).await;
    let csrf = csrf_of(&page);
    // No code file: the post goes without one and the status check below says so.
    let code = doors::setup_code_if_any(server).unwrap_or_default();
    let response = client
        .post(server.url("/setup"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("setup_code", code.as_str()),
            ("name", "Ada Admin"),
            ("username", "admin"),
            ("email", "admin@example.org"),
            ("password", "correct horse battery"),
            ("password_again", "correct horse battery"),
            ("key_saved", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "setup redirects");
    assert_eq!(response.headers()["location"], "/admin");
}

/// Signs `client` in through the login form; returns the response.
pub async fn login(
    server: &TestServer,
    client: &reqwest::Client,
    login: &str,
    password: &str,
) -> reqwest::Response {
    let page = get_text(client, server.url("/login")).await;
    let csrf = csrf_of(&page);
    client
        .post(server.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", login),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// Every file below `dir` (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                out.extend(files_under(&entry.path()));
            } else {
                out.push(entry.path());
            }
        }
    }
    out
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_printpark"))
}

/// A free TCP port on 127.0.0.1 (for peers that must be told their port).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A test document from tests/fixtures/documents.
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/documents")
        .join(name)
}

/// The admin "boss" (password "correct horse battery").
pub async fn create_admin(identity: &printpark::identity::Identity) -> printpark::identity::User {
    identity
        .create_user(
            None,
            &printpark::identity::NewUserRequest {
                username: "boss".into(),
                email: "boss@example.org".into(),
                admin: true,
                password: Some("correct horse battery".into()),
                ..Default::default()
            },
            &printpark::identity::ClientInfo::default(),
        )
        .await
        .unwrap()
}

/// A user `name` (e-mail `name@example.org`) with this password.
pub async fn create_user(
    server: &TestServer,
    name: &str,
    password: &str,
) -> printpark::identity::User {
    server
        .services
        .identity
        .create_user(
            None,
            &printpark::identity::NewUserRequest {
                username: name.into(),
                email: format!("{name}@example.org"),
                password: Some(password.into()),
                ..Default::default()
            },
            &printpark::identity::ClientInfo::default(),
        )
        .await
        .unwrap()
}

/// The body of a GET, as text.
pub async fn get_text(client: &reqwest::Client, url: String) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// `cupsd`, `lpadmin` and `ippeveprinter` live in /usr/sbin, which a non-root PATH may lack.
pub fn sbin(name: &str) -> String {
    let path = format!("/usr/sbin/{name}");
    if Path::new(&path).exists() {
        path
    } else {
        name.to_owned()
    }
}

pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}
