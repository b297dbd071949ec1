//! Where the master key comes from, and the check that it is the right one.
//!
//! Sources, in the order of the settings: `vault.master_key` (base64), or
//! `vault.master_password` (Argon2id with a salt kept in the database), or the key file
//! (`vault.master_key_file`, default `<data_dir>/master.key`), made on first start.
//! A key check value in the database tells a wrong key from a fresh installation.

use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{MasterKey, VaultError, keys};
use crate::config::Settings;
use crate::db::Db;

pub(super) const META_KEY_CHECK: &str = "key_check";
const META_SALT: &str = "master_salt";
/// Set while a generated master key has not yet been shown to the first admin.
const META_PENDING_BACKUP: &str = "master_key_pending_backup";
const CHECK_CONTEXT: &[u8] = b"printpark key-check v1";
const CHECK_PLAINTEXT: &[u8] = b"printpark master key check";

/// How the master key was obtained, for operator messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    Setting,
    Password,
    File(PathBuf),
}

#[derive(Debug)]
pub struct ResolvedMasterKey {
    pub key: MasterKey,
    pub source: MasterKeySource,
    /// True when this start made a brand-new key file.
    pub generated: bool,
}

pub(super) fn key_check_value(key: &MasterKey) -> Result<Vec<u8>, VaultError> {
    key.wrap(CHECK_PLAINTEXT, CHECK_CONTEXT)
}

fn opens_check(key: &MasterKey, check: &[u8]) -> bool {
    key.unwrap(check, CHECK_CONTEXT)
        .map(|plain| plain.as_slice() == CHECK_PLAINTEXT)
        .unwrap_or(false)
}

/// The pending-rotation file next to a key file.
pub fn next_key_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

/// Finds the master key, makes it on first start, and proves it opens this database.
pub async fn resolve(settings: &Settings, db: &Db) -> Result<ResolvedMasterKey, VaultError> {
    let check = db.vault_meta(META_KEY_CHECK).await?;
    let (key, source, generated) = if let Some(text) = &settings.vault.master_key {
        (
            MasterKey::from_base64(text.expose())?,
            MasterKeySource::Setting,
            false,
        )
    } else if let Some(password) = &settings.vault.master_password {
        let salt = db
            .init_vault_meta(META_SALT, &keys::random_bytes::<16>())
            .await?;
        let password = password.expose().to_owned();
        let key =
            tokio::task::spawn_blocking(move || MasterKey::derive_from_password(&password, &salt))
                .await
                .map_err(|e| VaultError::BadMasterKey(e.to_string()))??;
        (key, MasterKeySource::Password, false)
    } else {
        let path = settings.master_key_path();
        let (key, generated) = key_from_file(&path, check.as_deref())?;
        (key, MasterKeySource::File(path), generated)
    };

    match check {
        None => {
            db.init_vault_meta(META_KEY_CHECK, &key_check_value(&key)?)
                .await?;
            if generated {
                db.init_vault_meta(META_PENDING_BACKUP, b"1").await?;
            }
        }
        Some(check) if opens_check(&key, &check) => {}
        Some(check) => {
            // A rotation may have committed in the database but not yet renamed its file.
            if let MasterKeySource::File(path) = &source {
                let next = next_key_path(path);
                if let Ok(text) = std::fs::read_to_string(&next) {
                    let candidate = MasterKey::from_base64(&text)?;
                    if opens_check(&candidate, &check) {
                        std::fs::rename(&next, path).map_err(|e| VaultError::KeyFile {
                            path: path.display().to_string(),
                            reason: e.to_string(),
                        })?;
                        tracing::warn!(file = %path.display(), "finished an interrupted master key rotation");
                        return Ok(ResolvedMasterKey {
                            key: candidate,
                            source,
                            generated: false,
                        });
                    }
                }
            }
            return Err(VaultError::MasterKeyMismatch(format!(
                "key {} from {}; restore the master key this installation was set up with",
                key.id(),
                describe(&source)
            )));
        }
    }
    Ok(ResolvedMasterKey {
        key,
        source,
        generated,
    })
}

fn describe(source: &MasterKeySource) -> String {
    match source {
        MasterKeySource::Setting => "vault.master_key".into(),
        MasterKeySource::Password => "vault.master_password".into(),
        MasterKeySource::File(path) => path.display().to_string(),
    }
}

fn key_from_file(
    path: &Path,
    existing_check: Option<&[u8]>,
) -> Result<(MasterKey, bool), VaultError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((MasterKey::from_base64(&text)?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if existing_check.is_some() {
                return Err(VaultError::KeyFile {
                    path: path.display().to_string(),
                    reason: "missing, but the database already holds sealed data; restore the key file from your backup".into(),
                });
            }
            let key = MasterKey::generate();
            write_key_file(path, &key)?;
            tracing::warn!(file = %path.display(), "generated a new master key: back it up now, it is shown once in the first-run page");
            Ok((key, true))
        }
        Err(e) => Err(VaultError::KeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

/// Writes a key file (mode 0600) through a temporary file and an atomic rename.
pub fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), VaultError> {
    let fail = |e: std::io::Error| VaultError::KeyFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(fail)?;
    let text = key.to_base64();
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.write_all(b"\n").map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}

/// The generated master key, once, for the first-run page; `None` after the first
/// admin confirmed the backup, or when the key did not come from a generated file.
pub async fn key_pending_backup(
    db: &Db,
    settings: &Settings,
) -> Result<Option<Zeroizing<String>>, VaultError> {
    if db.vault_meta(META_PENDING_BACKUP).await?.is_none() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(settings.master_key_path()).map_err(|e| VaultError::KeyFile {
            path: settings.master_key_path().display().to_string(),
            reason: e.to_string(),
        })?;
    Ok(Some(MasterKey::from_base64(&text)?.to_base64()))
}

pub async fn confirm_backup(db: &Db) -> Result<(), VaultError> {
    db.delete_vault_meta(META_PENDING_BACKUP).await?;
    Ok(())
}
