//! The agent's only connection: outbound HTTPS to its server, which must show the
//! certificate pinned at enrolment. One keep-alive client carries the control channel
//! (enrol, heartbeat: JSON) and IPP INFRA (`application/ipp`, Fetch-Document streamed).

use std::time::Duration;

use futures_util::TryStreamExt;
use tokio::io::AsyncRead;
use tokio_util::io::StreamReader;

use super::AgentError;
use crate::ipp::wire::{Limits, Message, encode, read_message};
use crate::release::{
    AgentAssignment, AgentCredential, AgentEnrolment, AgentHealth, AgentOrders, AgentOrdersRequest,
    AgentOutcome, WorkstationJob,
};
use crate::tls::{SeenCertificate, client_config};

/// The longest a request waits for the next bytes; the server holds a long-poll up to
/// 25 s, so this only trips on a dead connection (a cut cable sends no reset).
const READ_TIMEOUT: Duration = Duration::from_secs(40);

/// Basic credentials for one request.
pub type Credential<'a> = (&'a str, &'a str);

#[derive(Clone)]
pub struct Channel {
    http: reqwest::Client,
    server: url::Url,
    seen: SeenCertificate,
}

impl Channel {
    /// `server` is `https://host[:port]`; `pin` the server certificate's SHA-256 (none
    /// at enrolment without `--server-fingerprint`: the first certificate is pinned).
    pub fn new(server: &str, pin: Option<&str>) -> Result<Self, AgentError> {
        let server = url::Url::parse(server)
            .ok()
            .filter(|u| u.scheme() == "https" && u.host_str().is_some())
            .ok_or_else(|| {
                AgentError::Setup(format!(
                    "--server must be the server's https:// address (got {server:?})"
                ))
            })?;
        let (tls, seen) = client_config(pin);
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(READ_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(50))
            .tcp_nodelay(true)
            .user_agent(concat!("printpark-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AgentError::Setup(format!("HTTPS client: {e}")))?;
        Ok(Self { http, server, seen })
    }

    /// The SHA-256 of the certificate the server showed last.
    pub fn seen_fingerprint(&self) -> Option<String> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `ipps://host:port{path}`: the URI the server knows its INFRA paths by.
    pub fn ipps_uri(&self, path: &str) -> String {
        let host = self.server.host_str().unwrap_or("localhost");
        match self.server.port() {
            Some(port) => format!("ipps://{host}:{port}{path}"),
            None => format!("ipps://{host}:443{path}"),
        }
    }

    fn url(&self, path: &str) -> String {
        let mut url = self.server.clone();
        url.set_path(path);
        url.to_string()
    }

    async fn check(&self, response: reqwest::Response) -> Result<reqwest::Response, AgentError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        // The server's errors: {"error": {"code": …, "message": …}}.
        let error = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error").cloned());
        let field = |name: &str| {
            error
                .as_ref()
                .and_then(|e| e.get(name))
                .and_then(|d| d.as_str())
                .map(str::to_string)
        };
        let code = field("code").unwrap_or_default();
        let detail = field("message").unwrap_or_else(|| text.chars().take(200).collect());
        Err(match status.as_u16() {
            401 => AgentError::Unauthenticated(detail),
            403 if code == "awaiting_approval" || code.is_empty() => AgentError::AwaitingApproval,
            s if s >= 500 => AgentError::Unreachable(format!("the server answered HTTP {s}")),
            s => AgentError::Refused(format!("HTTP {s}: {detail}")),
        })
    }

    fn unreachable(&self, e: reqwest::Error) -> AgentError {
        if let Some(pin) = self.seen_fingerprint().filter(|_| is_certificate_error(&e)) {
            return AgentError::CertificateChanged(pin);
        }
        AgentError::Unreachable(error_chain(&e))
    }

    pub async fn enrol(&self, enrolment: &AgentEnrolment) -> Result<AgentCredential, AgentError> {
        let response = self
            .send_json(
                "/api/v1/agent/enrol",
                None,
                enrolment,
                Duration::from_secs(30),
            )
            .await?;
        response
            .json()
            .await
            .map_err(|e| AgentError::Protocol(format!("enrolment answer: {e}")))
    }

    pub async fn heartbeat(
        &self,
        credential: Credential<'_>,
        health: &AgentHealth,
    ) -> Result<AgentAssignment, AgentError> {
        let response = self
            .post_json(
                "/api/v1/agent/heartbeat",
                credential,
                health,
                Duration::from_secs(30),
            )
            .await?;
        response
            .json()
            .await
            .map_err(|e| AgentError::Protocol(format!("heartbeat answer: {e}")))
    }

    async fn post_json<T: serde::Serialize>(
        &self,
        path: &str,
        credential: Credential<'_>,
        body: &T,
        timeout: Duration,
    ) -> Result<reqwest::Response, AgentError> {
        self.send_json(path, Some(credential), body, timeout).await
    }

    /// POSTs `body` as JSON (with Basic credentials when given); a non-2xx answer
    /// becomes the matching error.
    async fn send_json<T: serde::Serialize>(
        &self,
        path: &str,
        credential: Option<Credential<'_>>,
        body: &T,
        timeout: Duration,
    ) -> Result<reqwest::Response, AgentError> {
        let mut request = self.http.post(self.url(path)).json(body).timeout(timeout);
        if let Some((login, secret)) = credential {
            request = request.basic_auth(login, Some(secret));
        }
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        self.check(response).await
    }

    /// A workstation job's metadata; the server's job id.
    pub async fn park_job(
        &self,
        credential: Credential<'_>,
        job: &WorkstationJob,
    ) -> Result<i64, AgentError> {
        let response = self
            .post_json(
                "/api/v1/agent/jobs",
                credential,
                job,
                Duration::from_secs(30),
            )
            .await?;
        let parked: serde_json::Value = response
            .json()
            .await
            .map_err(|e| AgentError::Protocol(format!("park answer: {e}")))?;
        parked["job_id"]
            .as_i64()
            .ok_or_else(|| AgentError::Protocol("no job_id".into()))
    }

    /// Releases to deliver (the server holds the request up to 25 s).
    pub async fn orders(
        &self,
        credential: Credential<'_>,
        request: &AgentOrdersRequest,
    ) -> Result<AgentOrders, AgentError> {
        let response = self
            .post_json("/api/v1/agent/orders", credential, request, READ_TIMEOUT)
            .await?;
        response
            .json()
            .await
            .map_err(|e| AgentError::Protocol(format!("orders answer: {e}")))
    }

    /// Takes a release before anything is sent (idempotent).
    pub async fn claim(
        &self,
        credential: Credential<'_>,
        release_id: i64,
    ) -> Result<(), AgentError> {
        self.order_step(credential, release_id, "claim").await
    }

    /// Keeps the lease of a release being delivered.
    pub async fn renew(
        &self,
        credential: Credential<'_>,
        release_id: i64,
    ) -> Result<(), AgentError> {
        self.order_step(credential, release_id, "renew").await
    }

    async fn order_step(
        &self,
        credential: Credential<'_>,
        release_id: i64,
        step: &str,
    ) -> Result<(), AgentError> {
        let path = format!("/api/v1/agent/orders/{release_id}/{step}");
        self.post_json(
            &path,
            credential,
            &serde_json::json!({}),
            Duration::from_secs(30),
        )
        .await?;
        Ok(())
    }

    pub async fn outcome(
        &self,
        credential: Credential<'_>,
        release_id: i64,
        outcome: &AgentOutcome,
    ) -> Result<(), AgentError> {
        let path = format!("/api/v1/agent/orders/{release_id}/outcome");
        self.post_json(&path, credential, outcome, Duration::from_secs(30))
            .await?;
        Ok(())
    }

    /// Uploads a workstation job's failover copy (sealed with the site key).
    pub async fn upload_copy(
        &self,
        credential: Credential<'_>,
        job_id: i64,
        wrapped_key: &str,
        sealed: &std::path::Path,
    ) -> Result<(), AgentError> {
        let file = tokio::fs::File::open(sealed)
            .await
            .map_err(|e| AgentError::State(format!("{}: {e}", sealed.display())))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let response = self
            .http
            .put(self.url(&format!("/api/v1/agent/jobs/{job_id}/copy")))
            .basic_auth(credential.0, Some(credential.1))
            .header("X-Wrapped-Key", wrapped_key)
            .body(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.check(response).await?;
        Ok(())
    }

    /// Downloads a failover copy: the wrapped key and the sealed bytes.
    pub async fn download_copy(
        &self,
        credential: Credential<'_>,
        job_id: i64,
    ) -> Result<(String, Box<dyn AsyncRead + Send + Unpin>), AgentError> {
        let response = self
            .http
            .get(self.url(&format!("/api/v1/agent/jobs/{job_id}/copy")))
            .basic_auth(credential.0, Some(credential.1))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let response = self.check(response).await?;
        let key = response
            .headers()
            .get("x-wrapped-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let stream = response
            .bytes_stream()
            .map_err(|e| std::io::Error::other(error_chain(&e)));
        Ok((key, Box::new(StreamReader::new(stream))))
    }

    /// One IPP request; the answer's attributes (any IPP status comes back as `Ok`).
    pub async fn ipp(
        &self,
        path: &str,
        credential: Credential<'_>,
        request: &Message,
    ) -> Result<Message, AgentError> {
        Ok(self.ipp_with_body(path, credential, request).await?.0)
    }

    /// One IPP request; the answer's attributes and the rest of its body (the document
    /// of a Fetch-Document), read as it arrives.
    pub async fn ipp_with_body(
        &self,
        path: &str,
        credential: Credential<'_>,
        request: &Message,
    ) -> Result<(Message, Box<dyn AsyncRead + Send + Unpin>), AgentError> {
        let response = self
            .http
            .post(self.url(path))
            .basic_auth(credential.0, Some(credential.1))
            .header(reqwest::header::CONTENT_TYPE, "application/ipp")
            .body(encode(request))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let response = self.check(response).await?;
        let stream = response
            .bytes_stream()
            .map_err(|e| std::io::Error::other(error_chain(&e)));
        let mut reader = StreamReader::new(stream);
        let limits = Limits {
            max_bytes: 8 * 1024 * 1024,
            max_attributes: 50_000,
            max_depth: 16,
        };
        let message = read_message(&mut reader, limits)
            .await
            .map_err(|e| match e {
                crate::ipp::wire::WireError::Io(io) => AgentError::Unreachable(io.to_string()),
                other => AgentError::Protocol(format!("the server's IPP answer: {other}")),
            })?;
        Ok((message, Box::new(reader)))
    }
}

fn is_certificate_error(e: &reqwest::Error) -> bool {
    error_chain(e).contains("does not match the pinned one")
}

/// The error and its causes in one line ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
