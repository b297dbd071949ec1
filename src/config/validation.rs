//! Checks that types alone cannot express, run once at start: limits that must allow
//! something, addresses, names and files that must make sense together, and the
//! operations token.

use super::{ConfigError, OperationsSettings, Secret, Settings, StorageBackend};

/// Shortest operations token accepted: it guards live sign-in failure counts.
const MIN_OPERATIONS_TOKEN: usize = 16;

impl OperationsSettings {
    /// The token in force: `token`, or the first line of `token_file` (read now).
    pub fn bearer_token(&self) -> Result<Option<Secret>, ConfigError> {
        let (key, token) = match (&self.token, &self.token_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Setting {
                    key: "operations.token",
                    reason: "set operations.token or operations.token_file, not both".into(),
                });
            }
            (Some(token), None) => ("operations.token", token.expose().trim().to_owned()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Setting {
                    key: "operations.token_file",
                    reason: format!("{}: {e}", path.display()),
                })?;
                let line = text.lines().next().unwrap_or("").trim().to_owned();
                ("operations.token_file", line)
            }
            (None, None) => return Ok(None),
        };
        if token.chars().count() < MIN_OPERATIONS_TOKEN {
            return Err(ConfigError::Setting {
                key,
                reason: format!("the token must be at least {MIN_OPERATIONS_TOKEN} characters"),
            });
        }
        Ok(Some(Secret::new(token)))
    }
}

/// Dot-separated labels of letters, digits and hyphens (RFC 1123), as DNS-SD needs.
fn is_host_name(host: &str) -> bool {
    let labels = host.trim_end_matches('.');
    !labels.is_empty()
        && labels.split('.').all(|label| {
            !label.is_empty()
                && label.len() < 64
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl Settings {
    /// Checks that cannot be expressed by types alone.
    /// The connection and storage limits: each must allow something.
    fn validate_limits(&self) -> Result<(), ConfigError> {
        let at_least_one = |key: &'static str, value: u64| {
            if value == 0 {
                Err(ConfigError::Setting {
                    key,
                    reason: "must be at least 1".into(),
                })
            } else {
                Ok(())
            }
        };
        let server = &self.server;
        at_least_one(
            "server.request_head_timeout_secs",
            server.request_head_timeout_secs,
        )?;
        at_least_one(
            "server.body_idle_timeout_secs",
            server.body_idle_timeout_secs,
        )?;
        at_least_one(
            "server.max_connections_per_address",
            server.max_connections_per_address.into(),
        )?;
        at_least_one("server.max_connections", server.max_connections.into())?;
        if server.max_connections_per_address > server.max_connections {
            return Err(ConfigError::Setting {
                key: "server.max_connections_per_address",
                reason: "must not be larger than server.max_connections".into(),
            });
        }
        let queue = &self.queue;
        at_least_one("queue.max_user_mib", queue.max_user_mib)?;
        if queue.max_user_mib > u64::MAX / (2 * 1024 * 1024) {
            return Err(ConfigError::Setting {
                key: "queue.max_user_mib",
                reason: "is too large".into(),
            });
        }
        at_least_one(
            "queue.max_pending_per_user",
            queue.max_pending_per_user.into(),
        )?;
        at_least_one(
            "queue.max_documents_per_job",
            queue.max_documents_per_job.into(),
        )
    }

    /// Issue 16: `[ldap]`, when its `url` is set: the scheme goes with the security
    /// (plain LDAP only when asked for), the search account and base are there, the
    /// time-out is sane. The directory itself is tested from the admin page.
    fn validate_ldap(&self) -> Result<(), ConfigError> {
        use super::LdapSecurity;
        let ldap = &self.ldap;
        let Some(url) = ldap.url.as_deref() else {
            return Ok(());
        };
        let bad = |key: &'static str, reason: &str| {
            Err(ConfigError::Setting {
                key,
                reason: reason.into(),
            })
        };
        let scheme = url::Url::parse(url).map(|u| u.scheme().to_owned());
        match (scheme.as_deref(), ldap.security) {
            (Ok("ldaps"), LdapSecurity::Ldaps)
            | (Ok("ldap"), LdapSecurity::StartTls | LdapSecurity::InsecurePlain) => {}
            (Ok("ldaps"), _) => {
                return bad(
                    "ldap.security",
                    "an ldaps:// URL needs security = \"ldaps\"",
                );
            }
            (Ok("ldap"), _) => {
                return bad(
                    "ldap.security",
                    "an ldap:// URL needs security = \"start_tls\" (or, explicitly, \"insecure_plain\")",
                );
            }
            _ => {
                return bad(
                    "ldap.url",
                    "must look like ldaps://dc1.example.org or ldap://dc1.example.org",
                );
            }
        }
        if ldap.base_dn.trim().is_empty() {
            return bad("ldap.base_dn", "is required, e.g. DC=example,DC=org");
        }
        if ldap.bind_dn.as_deref().is_none_or(|d| d.trim().is_empty())
            || ldap
                .bind_password
                .as_ref()
                .is_none_or(|p| p.expose().is_empty())
        {
            return bad(
                "ldap.bind_dn / ldap.bind_password",
                "the account that searches the directory is required",
            );
        }
        if !(1..=60).contains(&ldap.timeout_secs) {
            return bad("ldap.timeout_secs", "must be 1 to 60");
        }
        if ldap.sync_interval_minutes > 7 * 24 * 60 {
            return bad(
                "ldap.sync_interval_minutes",
                "must be at most 10080 (a week); 0 = only Sync now",
            );
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if self.release.workers == 0 || self.release.check_timeout_secs == 0 {
            return Err(ConfigError::Setting {
                key: "release.workers / release.check_timeout_secs",
                reason: "must be at least 1".into(),
            });
        }
        if self.release.lease_secs < 3 {
            return Err(ConfigError::Setting {
                key: "release.lease_secs",
                reason: "must be at least 3 (it is renewed every third of it)".into(),
            });
        }
        self.plain_ipp_addr()?;
        self.validate_limits()?;
        self.validate_oidc()?; // single sign-on (issue 16, oidc)
        // Issue 16: LDAP / Active Directory.
        self.validate_ldap()?;
        if let Some(host) = &self.dnssd.host_name
            && !is_host_name(host)
        {
            return Err(ConfigError::Setting {
                key: "dnssd.host_name",
                reason: format!("`{host}` is not a host name such as printpark or printpark.local"),
            });
        }
        if let Some(url) = &self.server.public_url {
            // The same parser as the first-run and settings pages (issue 20).
            super::PublicAddress::parse(url).map_err(|e| ConfigError::Setting {
                key: "server.public_url",
                reason: e.to_string(),
            })?;
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(ConfigError::Setting {
                key: "server.tls_cert",
                reason: "server.tls_cert and server.tls_key must be set together".into(),
            });
        }
        let url = self.database_url();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Setting {
                key: "database.url",
                reason: "must start with sqlite:, postgres:// or postgresql://".into(),
            });
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Setting {
                key: "database.max_connections",
                reason: "must be at least 1".into(),
            });
        }
        if self.storage.backend == StorageBackend::S3 && self.storage.s3.bucket.is_empty() {
            return Err(ConfigError::Setting {
                key: "storage.s3.bucket",
                reason: "is required when storage.backend = \"s3\"".into(),
            });
        }
        if let Some(endpoint) = &self.storage.s3.endpoint {
            url::Url::parse(endpoint).map_err(|e| ConfigError::Setting {
                key: "storage.s3.endpoint",
                reason: e.to_string(),
            })?;
        }
        let sources = [
            self.vault.master_key.is_some(),
            self.vault.master_password.is_some(),
            self.vault.master_key_file.is_some(),
        ];
        if sources.iter().filter(|set| **set).count() > 1 {
            return Err(ConfigError::Setting {
                key: "vault.master_key",
                reason:
                    "set only one of vault.master_key, vault.master_password, vault.master_key_file"
                        .into(),
            });
        }
        if let Some(password) = &self.vault.master_password
            && password.expose().chars().count() < 12
        {
            return Err(ConfigError::Setting {
                key: "vault.master_password",
                reason: "must be at least 12 characters".into(),
            });
        }
        if !(4096..=16 * 1024 * 1024).contains(&self.vault.chunk_size) {
            return Err(ConfigError::Setting {
                key: "vault.chunk_size",
                reason: "must be between 4096 and 16777216 bytes".into(),
            });
        }
        if self.queue.max_job_mib == 0 {
            return Err(ConfigError::Setting {
                key: "queue.max_job_mib",
                reason: "must be at least 1".into(),
            });
        }
        if self.queue.hold_hours == 0 {
            return Err(ConfigError::Setting {
                key: "queue.hold_hours",
                reason: "must be at least 1".into(),
            });
        }
        if self.security.lockout_threshold == 0 {
            return Err(ConfigError::Setting {
                key: "security.lockout_threshold",
                reason: "must be at least 1".into(),
            });
        }
        if self.security.lockout_threshold_per_address == 0 {
            return Err(ConfigError::Setting {
                key: "security.lockout_threshold_per_address",
                reason: "must be at least 1".into(),
            });
        }
        if self.security.lockout_threshold_per_station == 0 {
            return Err(ConfigError::Setting {
                key: "security.lockout_threshold_per_station",
                reason: "must be at least 1".into(),
            });
        }
        if !(1..=86_400).contains(&self.security.lockout_base_seconds)
            || self.security.lockout_max_seconds < self.security.lockout_base_seconds
            || self.security.lockout_max_seconds > 30 * 86_400
        {
            return Err(ConfigError::Setting {
                key: "security.lockout_base_seconds",
                reason: "use 1 to 86400 seconds, and security.lockout_max_seconds between it and 2592000 (30 days)".into(),
            });
        }
        if !(4..=12).contains(&self.security.pin_min_digits) {
            return Err(ConfigError::Setting {
                key: "security.pin_min_digits",
                reason: "use 4 to 12 digits".into(),
            });
        }
        if !(1..=24 * 30).contains(&self.security.session_max_hours) {
            return Err(ConfigError::Setting {
                key: "security.session_max_hours",
                reason: "use 1 to 720 hours".into(),
            });
        }
        if self.security.argon2_memory_kib < 8 * 1024 {
            return Err(ConfigError::Setting {
                key: "security.argon2_memory_kib",
                reason: "must be at least 8192 (8 MiB)".into(),
            });
        }
        self.operations.bearer_token()?;
        self.validate_smtp()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            ConfigError::Setting {
                key: "log.level",
                reason: e.to_string(),
            }
        })?;
        Ok(())
    }
}

// Issue 16, e-mail: `[smtp]`, when its host is set.
impl Settings {
    fn validate_smtp(&self) -> Result<(), ConfigError> {
        let smtp = &self.smtp;
        let Some(host) = smtp.host.as_deref().filter(|h| !h.trim().is_empty()) else {
            return Ok(());
        };
        let bad = |key: &'static str, reason: &str| {
            Err(ConfigError::Setting {
                key,
                reason: reason.into(),
            })
        };
        if host.chars().any(|c| c.is_whitespace() || c == '/') {
            return bad(
                "smtp.host",
                "must be a host name or address, such as smtp.example.org",
            );
        }
        if smtp.port == 0 {
            return bad("smtp.port", "must be 1 to 65535");
        }
        if !(1..=120).contains(&smtp.timeout_secs) {
            return bad("smtp.timeout_secs", "use 1 to 120 seconds");
        }
        match smtp.from.as_deref() {
            Some(from) if from.parse::<lettre::message::Mailbox>().is_ok() => {}
            _ => {
                return bad(
                    "smtp.from",
                    "is required with smtp.host: an address such as PrintPark <print@example.org>",
                );
            }
        }
        if smtp.username.is_some() != smtp.password.is_some() {
            return bad(
                "smtp.username",
                "smtp.username and smtp.password go together",
            );
        }
        if let Some(path) = &smtp.ca_file
            && let Err(e) = std::fs::metadata(path)
        {
            return Err(ConfigError::Setting {
                key: "smtp.ca_file",
                reason: format!("{}: {e}", path.display()),
            });
        }
        Ok(())
    }
}

// Single sign-on (issue 16, oidc).
impl Settings {
    /// Each `[[oidc.providers]]` entry makes sense on its own, and names are unique.
    fn validate_oidc(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for provider in &self.oidc.providers {
            provider
                .check()
                .map_err(|(field, reason)| ConfigError::Setting {
                    key: "oidc.providers",
                    reason: format!("provider `{}`, {field}: {reason}", provider.name),
                })?;
            if !seen.insert(provider.name.as_str()) {
                return Err(ConfigError::Setting {
                    key: "oidc.providers",
                    reason: format!("two providers are named `{}`", provider.name),
                });
            }
        }
        Ok(())
    }
}
