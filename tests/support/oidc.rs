//! A real OpenID provider for the single sign-on tests: the certified `oidc-provider`
//! from npm, run by `tests/oidc-provider/provider.mjs` under Node on 127.0.0.1 over HTTPS
//! with a certificate from a throwaway CA (rcgen) that PrintPark is told to trust
//! (`ca_file`). Its issuer is `https://localhost:PORT`, another site than PrintPark's
//! `https://127.0.0.1:PORT`, as a real provider is: cookies that only work same-site show.
//!
//! `tests/run.sh` installs the npm packages with `npm ci` into a cache dir and exports
//! `OIDC_PROVIDER_MODULES`; without it the modules are looked for beside the script.
//! The provider can alter the ID tokens its token endpoint hands out ([`Tamper`]) and
//! counts its token answers, so a test knows the token endpoint was reached.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use printpark::config::{OidcProviderSettings, Secret};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest;

/// A person the provider knows. `password` is what its sign-in form wants.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub preferred_username: String,
    pub name: String,
    pub groups: Vec<String>,
    pub password: String,
}

impl Account {
    /// `username@example.org`, verified, password `provider pw {username}`.
    pub fn new(username: &str, groups: &[&str]) -> Self {
        Self {
            sub: format!("sub-{username}-{}", uuid::Uuid::new_v4().simple()),
            email: format!("{username}@example.org"),
            email_verified: true,
            preferred_username: username.into(),
            name: format!("{username} Example"),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            password: format!("provider pw {username}"),
        }
    }
}

/// How the provider alters the ID token of its next token answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    None,
    WrongIssuer,
    WrongAudience,
    WrongNonce,
    Expired,
    /// The real claims signed with a foreign key under the provider's key id.
    BadSignature,
}

impl Tamper {
    pub fn as_str(self) -> &'static str {
        match self {
            Tamper::None => "none",
            Tamper::WrongIssuer => "wrong-iss",
            Tamper::WrongAudience => "wrong-aud",
            Tamper::WrongNonce => "wrong-nonce",
            Tamper::Expired => "expired",
            Tamper::BadSignature => "bad-signature",
        }
    }
}

/// What the provider counted.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderStats {
    /// Token endpoint answers that carried an ID token.
    pub token_responses: u64,
    /// Of those, the ones altered by a [`Tamper`] mode.
    pub tampered: u64,
    /// Provider sessions ended by RP-initiated logout.
    pub ended_sessions: u64,
}

/// What a provider is started with.
pub struct ProviderSetup {
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub accounts: Vec<Account>,
    /// Release the `groups` claim with every token, not only for the `groups` scope.
    pub groups_always: bool,
}

/// The running provider; stopped on drop (also when a test fails).
pub struct OidcProvider {
    child: Child,
    pub issuer: String,
    /// PEM of the CA that signed the provider's certificate.
    pub ca_file: PathBuf,
    pub client_id: String,
    pub client_secret: String,
    /// A client that trusts the provider's CA only and follows no redirects.
    pub http: reqwest::Client,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn modules_dir() -> PathBuf {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider");
    match std::env::var_os("OIDC_PROVIDER_MODULES") {
        Some(dir) => PathBuf::from(dir),
        None if beside.join("node_modules/oidc-provider").exists() => beside,
        None => panic!(
            "oidc-provider is not installed: run the tests with tests/run.sh (npm ci into a cache dir), \
             or `npm ci` in tests/oidc-provider"
        ),
    }
}

/// A CA and a server certificate for localhost and 127.0.0.1, as PEM files in `dir`;
/// returns (ca, cert, key) paths.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "PrintPark test OpenID CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server = params.signed_by(&server_key, &ca).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server-key.pem"),
    );
    std::fs::write(&paths.0, ca.as_ref().pem()).unwrap();
    std::fs::write(&paths.1, server.pem()).unwrap();
    std::fs::write(&paths.2, server_key.serialize_pem()).unwrap();
    (paths.0, paths.1, paths.2)
}

impl OidcProvider {
    /// A provider with one confidential client (`printpark`) allowed to come back to
    /// `redirect_uris`, knowing `accounts`; returns once its discovery document answers.
    pub async fn start(setup: ProviderSetup) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ca_file, cert, key) = certificates(dir.path());
        let port = super::free_port();
        let issuer = format!("https://localhost:{port}");
        let client_id = "printpark".to_owned();
        let client_secret = format!("secret-{}", uuid::Uuid::new_v4().simple());
        let config = json!({
            "port": port,
            "cert": cert,
            "key": key,
            "issuer": issuer,
            "groups": if setup.groups_always { "always" } else { "scope" },
            "clients": [{
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": setup.redirect_uris,
                "post_logout_redirect_uris": setup.post_logout_redirect_uris,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            }],
            "accounts": setup.accounts,
        });
        let config_file = dir.path().join("provider.json");
        std::fs::write(&config_file, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        let log = dir.path().join("provider.log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider/provider.mjs");
        let child = Command::new("node")
            .arg(&script)
            .arg(&config_file)
            .arg(modules_dir())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("provider.err")).unwrap())
            .spawn()
            .expect("node is installed (tests/run.sh installs nodejs)");
        let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca_file).unwrap()).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only([ca])
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut provider = Self {
            child,
            issuer,
            ca_file,
            client_id,
            client_secret,
            http,
            log,
            _dir: dir,
        };
        provider.wait_until_ready().await;
        provider
    }

    async fn wait_until_ready(&mut self) {
        let discovery = format!("{}/.well-known/openid-configuration", self.issuer);
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the OpenID provider exited ({status}):\n{}", self.output());
            }
            if let Ok(response) = self.http.get(&discovery).send().await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the OpenID provider's discovery never answered:\n{}",
            self.output()
        );
    }

    /// What the provider printed (for failure messages).
    pub fn output(&self) -> String {
        let out = std::fs::read_to_string(&self.log).unwrap_or_default();
        let err =
            std::fs::read_to_string(self.log.with_file_name("provider.err")).unwrap_or_default();
        format!("{out}{err}")
    }

    /// PrintPark settings for this provider under `name` (match by e-mail, no creation,
    /// admins = members of `admins`).
    pub fn settings(&self, name: &str) -> OidcProviderSettings {
        OidcProviderSettings {
            name: name.into(),
            label: "Test Provider".into(),
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: Some(Secret::new(self.client_secret.clone())),
            ca_file: Some(self.ca_file.clone()),
            groups_claim: "groups".into(),
            admin_groups: vec!["admins".into()],
            scopes: vec!["email".into(), "profile".into(), "groups".into()],
            ..Default::default()
        }
    }

    pub async fn tamper(&self, mode: Tamper) {
        let response = self
            .http
            .post(format!("{}/__tamper", self.issuer))
            .json(&json!({ "mode": mode.as_str() }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "tamper {mode:?}");
    }

    /// Changes what the provider says about `account` (found by its `sub`).
    pub async fn update_account(&self, account: &Account) {
        let response = self
            .http
            .post(format!("{}/__account", self.issuer))
            .json(account)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "update {}", account.sub);
    }

    pub async fn stats(&self) -> ProviderStats {
        self.http
            .get(format!("{}/__stats", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The discovery document.
    pub async fn discovery(&self) -> serde_json::Value {
        self.http
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl OidcProvider {
    /// Stops the provider now (an outage); its port then refuses connections.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A PKCE pair: (verifier, S256 challenge).
pub fn pkce_pair() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Where a redirect answer sends the client, as an absolute URL.
pub fn location(response: &reqwest::Response) -> String {
    let to = response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("{} is no redirect", response.status()))
        .to_str()
        .unwrap();
    response.url().join(to).unwrap().to_string()
}

/// Walks the provider's side of a sign-in by hand: from its authorization URL through
/// its sign-in form (as `login` with `password`) to the redirect back to the client.
/// Returns that redirect's URL (`redirect_uri?code=..&state=..`). `client` keeps
/// cookies and follows no redirects.
pub async fn sign_in_at_provider(
    client: &reqwest::Client,
    authorize_url: &str,
    login: &str,
    password: &str,
) -> String {
    let provider = url::Url::parse(authorize_url).unwrap().origin();
    let mut url = authorize_url.to_owned();
    // auth -> interaction page (a form), post it -> auth again -> back to the client.
    for _ in 0..8 {
        let response = client.get(&url).send().await.unwrap();
        if response.status().is_redirection() {
            let next = location(&response);
            if url::Url::parse(&next).unwrap().origin() != provider {
                return next;
            }
            url = next;
            continue;
        }
        let status = response.status();
        let page = response.text().await.unwrap();
        assert_eq!(status, 200, "provider page {url}: {page}");
        let action = super::between(&page, "action=\"", "\"").to_owned();
        let posted = client
            .post(url::Url::parse(&url).unwrap().join(&action).unwrap())
            .form(&[("login", login), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 303, "provider sign-in as {login}");
        url = location(&posted);
    }
    panic!("the provider never sent the client back");
}
