//! OpenID Connect single sign-on against a real provider: the certified `oidc-provider`
//! from npm on loopback (tests/support/oidc.rs), PrintPark as the relying party.
//! `provider` checks the peer on its own; `sign_in` signs people in end to end (a real
//! browser, roles from a group claim, where `next` may lead); `refusals` brings every
//! bad callback and bad ID token and expects a refusal page and an audit row;
//! `service` checks that each is refused for the reason that names it; `people` that
//! links and roles follow the provider over time; `outage` a provider down or hung.

mod outage;
mod people;
mod provider;
mod refusals;
mod service;
mod sign_in;

use printpark::config::OidcProviderSettings;
use printpark::db::AuditEntry;

use crate::support::oidc::{Account, OidcProvider, ProviderSetup, location, sign_in_at_provider};
use crate::support::{Backend, TestServer};

/// The provider's name in PrintPark's settings and addresses.
const NAME: &str = "test";

/// A PrintPark server whose `[oidc]` names one real provider, and that provider.
struct Sso {
    server: TestServer,
    provider: OidcProvider,
    /// The local admin `boss`.
    admin: printpark::identity::User,
}

impl Sso {
    /// Starts the provider (knowing `accounts`) and PrintPark, whose provider settings
    /// `tweak` may change; an admin `boss` exists so the first-run page is closed.
    async fn start(
        backend: Backend,
        accounts: Vec<Account>,
        tweak: impl FnOnce(&mut OidcProviderSettings),
    ) -> Self {
        // PrintPark's port is chosen first: the provider must know the redirect URI.
        let port = crate::support::free_port();
        let base = format!("https://127.0.0.1:{port}");
        let provider = OidcProvider::start(ProviderSetup {
            redirect_uris: vec![format!("{base}/sso/{NAME}/callback")],
            post_logout_redirect_uris: vec![format!("{base}/"), format!("{base}/login")],
            accounts,
            groups_always: false,
        })
        .await;
        let mut settings = provider.settings(NAME);
        tweak(&mut settings);
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => crate::support::sqlite_url(dir.path()),
            Backend::Postgres => crate::support::fresh_postgres_url().await,
        };
        let server = TestServer::start_on(
            dir,
            |dir| {
                let mut s = crate::support::settings(dir, &url);
                s.server.public_url = Some(base.clone());
                s.oidc.providers = vec![settings];
                s
            },
            format!("127.0.0.1:{port}").parse().unwrap(),
        )
        .await;
        let admin = crate::support::create_admin(&server.services.identity).await;
        Self {
            server,
            provider,
            admin,
        }
    }

    /// `GET /sso/test/start?next=..`: must redirect to the provider's authorization
    /// endpoint; returns that URL.
    async fn start_sign_in(&self, client: &reqwest::Client, next: Option<&str>) -> String {
        let mut url = url::Url::parse(&self.server.url(&format!("/sso/{NAME}/start"))).unwrap();
        if let Some(next) = next {
            url.query_pairs_mut().append_pair("next", next);
        }
        let response = client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 303, "start: {:?}", response.text().await);
        let to = location(&response);
        let authorization = self.provider.discovery().await["authorization_endpoint"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(to.starts_with(&authorization), "start sent to {to}");
        to
    }

    /// Start, the provider's form as `account`, and the way back up to (not into) the
    /// callback: returns the callback URL with its code and state.
    async fn callback_url(
        &self,
        client: &reqwest::Client,
        account: &Account,
        next: Option<&str>,
    ) -> String {
        let authorize = self.start_sign_in(client, next).await;
        let back = sign_in_at_provider(
            client,
            &authorize,
            &account.preferred_username,
            &account.password,
        )
        .await;
        assert!(
            back.starts_with(&self.server.url(&format!("/sso/{NAME}/callback?"))),
            "the provider sent the browser to {back}"
        );
        back
    }

    /// A whole sign-in; returns the callback's answer.
    async fn sign_in(
        &self,
        client: &reqwest::Client,
        account: &Account,
        next: Option<&str>,
    ) -> reqwest::Response {
        let back = self.callback_url(client, account, next).await;
        client.get(back).send().await.unwrap()
    }

    /// The audit rows of single sign-on, newest first.
    async fn sso_audit(&self) -> Vec<AuditEntry> {
        self.server
            .services
            .db
            .audit_page(None, 500, Some("sso."))
            .await
            .unwrap()
    }

    /// Whether `client` holds a session: the portal answers it rather than sending it
    /// to the sign-in page.
    async fn signed_in(&self, client: &reqwest::Client) -> bool {
        let response = client.get(self.server.url("/portal")).send().await.unwrap();
        response.status() == 200
    }
}
