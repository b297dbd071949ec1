//! Settings: embedded defaults, then one TOML file, then `PRINTPARK_*` environment
//! variables (`__` separates sections: `PRINTPARK_SERVER__LISTEN=0.0.0.0:443`).
//! This is the only module that reads the environment for settings.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where the SQLite file, sealed blobs, TLS certificate and master key live by default.
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub storage: StorageSettings,
    pub vault: VaultSettings,
    pub security: SecuritySettings,
    pub queue: QueueSettings,
    pub dnssd: DnsSdSettings,
    pub release: ReleaseSettings,
    pub log: LogSettings,
    pub operations: OperationsSettings,
}

/// Delivering released jobs to printers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseSettings {
    /// Deliveries that may run at once in this process (each printer takes one job
    /// at a time whatever this says).
    pub workers: usize,
    /// How long to follow a printer's job to completion before its outcome is called
    /// unknown (needs attention).
    pub follow_timeout_secs: u64,
    /// How long a busy or unreachable printer is retried before the release fails
    /// and the job is held again.
    pub retry_for_secs: u64,
    /// How long a printer has to answer the state check before a release.
    pub check_timeout_secs: u64,
    /// A delivery's database lease; renewed every third of it while the delivery runs.
    /// After a crash, another process (or the restarted one) takes over after this.
    pub lease_secs: u64,
    /// Workstation agents also upload each job, sealed with the site key (the server
    /// cannot open it), so another agent of the site can deliver it while the
    /// workstation is asleep or offline.
    pub agent_failover_copy: bool,
    /// A workstation agent not heard from for this long is away: another agent of the
    /// site delivers its jobs from their failover copies.
    pub agent_offline_secs: u64,
}

impl Default for ReleaseSettings {
    fn default() -> Self {
        Self {
            workers: 4,
            follow_timeout_secs: 600,
            retry_for_secs: 300,
            check_timeout_secs: 5,
            lease_secs: 60,
            agent_failover_copy: false,
            agent_offline_secs: 45,
        }
    }
}

/// Announcing the queue on the local network (DNS-SD over multicast DNS), so phones
/// and laptops find it with no setup.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSdSettings {
    pub enabled: bool,
    /// The `.local` host name announced; defaults to this machine's host name.
    pub host_name: Option<String>,
}

impl Default for DnsSdSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            host_name: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Queue name shown to clients (IPP printer-name, DNS-SD instance name).
    pub name: String,
    pub location: String,
    /// Largest document accepted, in MiB (after decompression).
    pub max_job_mib: u64,
    /// Held jobs a user may have at once.
    pub max_held_per_user: u32,
    /// Bytes (MiB, after decompression) one user may have stored at once: documents of
    /// unfinished jobs plus documents still arriving. Reserved in the database as the
    /// bytes arrive, so parallel uploads cannot overshoot it.
    pub max_user_mib: u64,
    /// Unfinished jobs (being received, held, being released) one user may have at once,
    /// counted atomically with the jobs still arriving.
    pub max_pending_per_user: u32,
    /// Documents one IPP job may carry (Send-Document).
    pub max_documents_per_job: u32,
    /// How long a job waits for release before it is purged.
    pub hold_hours: u64,
    /// The printpark binary that runs the sandboxed PDF analyser; this program when
    /// unset. Not a setting: tests that run the server in-process point it at the
    /// built binary.
    #[serde(skip)]
    pub analyser_exe: Option<PathBuf>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            name: "PrintPark".into(),
            location: String::new(),
            max_job_mib: 512,
            max_held_per_user: 200,
            max_user_mib: 1024,
            max_pending_per_user: 200,
            max_documents_per_job: 100,
            hold_hours: 24,
            analyser_exe: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// The one TLS listener (web, API, IPP).
    pub listen: String,
    /// How users reach the server, e.g. `https://print.example.org`; used in links.
    pub public_url: Option<String>,
    /// PEM certificate chain and key; a self-signed pair is made under `data_dir/tls` when unset.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Worker threads for HTTP; 0 = one per core.
    pub workers: usize,
    /// How long an idle connection (also a new one before its first request) stays
    /// open. Printing clients (CUPS, ipptool) hold a connection through long pauses and
    /// write into it without checking whether the server closed it meanwhile, which
    /// fails their next request.
    pub keep_alive_secs: u64,
    /// A second listener for IPP without TLS (e.g. `0.0.0.0:631`), for old clients
    /// on a trusted network. Off unless set: passwords cross it in clear.
    pub plain_ipp_listen: Option<String>,
    /// How long a client may take to send a request head, from its first byte to its
    /// end (and, on a new connection, to finish the TLS handshake) before it is
    /// answered 408 and closed. A silent connection waits `keep_alive_secs`.
    pub request_head_timeout_secs: u64,
    /// A client that sends nothing for this long in the middle of a request body is
    /// cut off; a document half-received is discarded.
    pub body_idle_timeout_secs: u64,
    /// Open connections one source address may hold; more are closed at accept.
    pub max_connections_per_address: u32,
    /// Open connections in total; more are closed at accept.
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; defaults to `sqlite://<data_dir>/printpark.db`.
    pub url: Option<Secret>,
    pub max_connections: u32,
    /// How long start-up keeps retrying an unreachable database before giving up.
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Local,
    S3,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    pub backend: StorageBackend,
    /// Local blob folder; defaults to `<data_dir>/blobs`.
    pub path: Option<PathBuf>,
    /// Blobs and upload leftovers without a record are swept once this old (seconds),
    /// so uploads in flight are spared.
    pub sweep_min_age_secs: i64,
    pub s3: S3Settings,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    /// Path-style addressing (`https://host/bucket/key`), needed by most S3-compatible servers.
    pub path_style: bool,
    /// Key prefix inside the bucket.
    pub prefix: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSettings {
    /// File holding the 32-byte master key (base64). Made on first start when missing
    /// and neither `master_key` nor `master_password` is set.
    pub master_key_file: Option<PathBuf>,
    /// The master key itself, base64 (prefer the file or a secret store).
    pub master_key: Option<Secret>,
    /// A password the master key is derived from with Argon2id.
    pub master_password: Option<Secret>,
    /// Plaintext bytes per sealed chunk.
    pub chunk_size: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// A browser session ends after this much inactivity.
    pub session_idle_minutes: u64,
    /// Failed sign-ins in a row before an account identifier is locked.
    pub lockout_threshold: u32,
    /// First lock duration; it doubles with each further failure, up to `lockout_max_seconds`.
    pub lockout_base_seconds: u64,
    pub lockout_max_seconds: u64,
    /// Argon2id memory cost in KiB for passwords and PINs.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Failed sign-ins from one source address (any account, any way in) before that
    /// address is locked: stops password spraying over many accounts and badge
    /// guessing over many stations.
    pub lockout_threshold_per_address: u32,
    /// Failed sign-ins at one printer from addresses that have not signed anyone in
    /// there lately, before the printer refuses such addresses; the station's own
    /// tablet (an address that recently signed someone in there) is not held back.
    pub lockout_threshold_per_station: u32,
    /// A known badge also asks for the person's PIN (for sites whose card numbers are
    /// guessable, such as 26-bit cards).
    pub badge_requires_pin: bool,
    /// Fewest digits of a PIN a person sets (4 to 12). Shorter PINs set earlier keep
    /// working until changed.
    pub pin_min_digits: u32,
    /// A browser session ends this many hours after sign-in however much it is used.
    pub session_max_hours: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `printpark=debug,info`.
    pub level: String,
}

/// The operations endpoints. `/healthz` always answers (container health checks);
/// with a token, `/metrics` and `/readyz` answer only `Authorization: Bearer <token>`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OperationsSettings {
    /// The bearer token for `/metrics` and `/readyz` (at least 16 characters).
    pub token: Option<Secret>,
    /// A file whose first line is the token (a container secret); instead of `token`.
    pub token_file: Option<PathBuf>,
}

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

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            storage: StorageSettings::default(),
            vault: VaultSettings::default(),
            security: SecuritySettings::default(),
            queue: QueueSettings::default(),
            dnssd: DnsSdSettings::default(),
            release: ReleaseSettings::default(),
            log: LogSettings::default(),
            operations: OperationsSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8443".into(),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            workers: 0,
            keep_alive_secs: 300,
            plain_ipp_listen: None,
            request_head_timeout_secs: 10,
            body_idle_timeout_secs: 30,
            max_connections_per_address: 64,
            max_connections: 1024,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            connect_timeout_secs: 60,
        }
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            path: None,
            sweep_min_age_secs: 3600,
            s3: S3Settings {
                region: "us-east-1".into(),
                ..S3Settings::default()
            },
        }
    }
}

impl Default for VaultSettings {
    fn default() -> Self {
        Self {
            master_key_file: None,
            master_key: None,
            master_password: None,
            chunk_size: 64 * 1024,
        }
    }
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            session_idle_minutes: 8 * 60,
            lockout_threshold: 5,
            lockout_base_seconds: 60,
            lockout_max_seconds: 3600,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            lockout_threshold_per_address: 20,
            lockout_threshold_per_station: 20,
            badge_requires_pin: false,
            pin_min_digits: 6,
            session_max_hours: 12,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Environment variables that are not settings: the one that chooses the file, and
/// `printpark agent`'s own flags (read by clap).
const NON_SETTING_ENV: &[&str] = &[
    "config",
    "agent_server",
    "agent_enrol",
    "agent_state",
    "agent_site_password",
];

impl Settings {
    /// Defaults ← TOML file (when given or `./printpark.toml` exists) ← `PRINTPARK_*` env.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let file = file.map(Path::to_path_buf).or_else(|| {
            let default = PathBuf::from("printpark.toml");
            default.exists().then_some(default)
        });
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            figment = figment.merge(Toml::string(&text));
        }
        figment = figment.merge(
            Env::prefixed("PRINTPARK_")
                .ignore(NON_SETTING_ENV)
                .split("__"),
        );
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe_figment_error(e)))?;
        settings.validate()?;
        Ok(settings)
    }

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
        if let Some(host) = &self.dnssd.host_name
            && !is_host_name(host)
        {
            return Err(ConfigError::Setting {
                key: "dnssd.host_name",
                reason: format!("`{host}` is not a host name such as printpark or printpark.local"),
            });
        }
        if let Some(url) = &self.server.public_url {
            let parsed = url::Url::parse(url).map_err(|e| ConfigError::Setting {
                key: "server.public_url",
                reason: e.to_string(),
            })?;
            if parsed.scheme() != "https" {
                return Err(ConfigError::Setting {
                    key: "server.public_url",
                    reason: "must start with https://".into(),
                });
            }
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
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            ConfigError::Setting {
                key: "log.level",
                reason: e.to_string(),
            }
        })?;
        Ok(())
    }

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

fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("`{}`: ", e.path.join("."))
            };
            let source = match &e.metadata {
                Some(meta) if meta.name.contains("environment") => {
                    format!(
                        " (from environment variable PRINTPARK_{})",
                        e.path.join("__").to_uppercase()
                    )
                }
                Some(meta) => format!(" (from {})", meta.name),
                None => String::new(),
            };
            format!("{key}{}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
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
