//! Settings: embedded defaults, then one TOML file, then `PRINTPARK_*` environment
//! variables (`__` separates sections: `PRINTPARK_SERVER__LISTEN=0.0.0.0:443`).
//! This is the only module that reads the environment for settings.
//!
//! Here: the errors, the secret type and the derived paths and addresses;
//! `settings.rs` holds every section with its defaults, `layering.rs` the loading
//! order, `validation.rs` the checks types cannot express.

mod address;
mod identity;
mod layering;
mod settings;
mod validation;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use address::{AddressError, PublicAddress};
pub use identity::{
    LdapAttributes, LdapPreset, LdapSecurity, LdapSettings, OidcMatchClaim, OidcProviderSettings,
    OidcSettings, SmtpSecurity, SmtpSettings,
};
pub use settings::{
    DatabaseSettings, DnsSdSettings, LogFormat, LogSettings, OperationsSettings, QueueSettings,
    ReleaseSettings, S3Settings, SecuritySettings, ServerSettings, Settings, StorageBackend,
    StorageSettings, VaultSettings,
};

/// A start-up error that names the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting: {0}")]
    Invalid(String),
    #[error("invalid setting `{key}`: {reason}")]
    Setting { key: &'static str, reason: String },
    #[error("cannot read config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// A value that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Settings {
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server
            .listen
            .parse()
            .map_err(|_| ConfigError::Setting {
                key: "server.listen",
                reason: format!(
                    "`{}` is not an address:port such as 0.0.0.0:8443",
                    self.server.listen
                ),
            })
    }

    /// The plain-IPP listener's address, when the admin enabled one.
    pub fn plain_ipp_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        match &self.server.plain_ipp_listen {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| ConfigError::Setting {
                key: "server.plain_ipp_listen",
                reason: format!("`{text}` is not an address:port such as 0.0.0.0:631"),
            }),
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("printpark.db").display()
            ),
        }
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.storage
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("blobs"))
    }

    pub fn tls_dir(&self) -> PathBuf {
        self.data_dir.join("tls")
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.vault
            .master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

/// Hides the password of a database URL for logs and pages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Settings::default().validate().expect("defaults validate");
    }

    #[test]
    fn a_bad_listen_address_names_the_setting() {
        let mut s = Settings::default();
        s.server.listen = "nowhere".into();
        let msg = s.validate().unwrap_err().to_string();
        assert!(msg.contains("server.listen"), "{msg}");
    }

    #[test]
    fn s3_without_bucket_is_refused() {
        let mut s = Settings::default();
        s.storage.backend = StorageBackend::S3;
        let msg = s.validate().unwrap_err().to_string();
        assert!(msg.contains("storage.s3.bucket"), "{msg}");
    }

    #[test]
    fn the_operations_token_is_checked_and_read_from_its_file() {
        let mut s = Settings::default();
        s.operations.token = Some(Secret::new("short"));
        let msg = s.validate().unwrap_err().to_string();
        assert!(msg.contains("operations.token"), "{msg}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ops-token");
        std::fs::write(&file, "0123456789abcdef-from-file\n").unwrap();
        s.operations.token_file = Some(file.clone());
        let msg = s.validate().unwrap_err().to_string();
        assert!(msg.contains("not both"), "{msg}");
        s.operations.token = None;
        let token = s.operations.bearer_token().unwrap().unwrap();
        assert_eq!(token.expose(), "0123456789abcdef-from-file");
        s.operations.token_file = Some(dir.path().join("missing"));
        let msg = s.validate().unwrap_err().to_string();
        assert!(msg.contains("operations.token_file"), "{msg}");
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(
            redact_url("postgres://pp:hunter2@db/pp"),
            "postgres://pp:***@db/pp"
        );
    }
}
