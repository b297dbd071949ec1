//! The loading order: embedded defaults, then the TOML file, then `PRINTPARK_*`
//! environment variables; an error names the setting and where its value came from.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use super::{ConfigError, Settings};

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
