//! Where sealed blobs are kept: local disk or an S3 bucket, both through `object_store`.
//! Object names come from random blob ids, never from anything a client sent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt};

use super::VaultError;
use crate::config::{Settings, StorageBackend};

/// The object store plus, for local disk, its root (to make writes durable with fsync).
#[derive(Clone, Debug)]
pub struct BlobStore {
    pub(super) store: Arc<dyn ObjectStore>,
    local_root: Option<PathBuf>,
    description: String,
}

impl BlobStore {
    pub fn from_settings(settings: &Settings) -> Result<Self, VaultError> {
        match settings.storage.backend {
            StorageBackend::Local => Self::local(&settings.blob_dir()),
            StorageBackend::S3 => {
                let s3 = &settings.storage.s3;
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_virtual_hosted_style_request(!s3.path_style);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(id) = &s3.access_key_id {
                    builder = builder.with_access_key_id(id.expose());
                }
                if let Some(secret) = &s3.secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose());
                }
                let store = builder
                    .build()
                    .map_err(|e| VaultError::StoreConfig(e.to_string()))?;
                let description = format!(
                    "s3 bucket `{}` at {}",
                    s3.bucket,
                    s3.endpoint.as_deref().unwrap_or("AWS")
                );
                let store: Arc<dyn ObjectStore> = if s3.prefix.is_empty() {
                    Arc::new(store)
                } else {
                    Arc::new(PrefixStore::new(store, s3.prefix.as_str()))
                };
                Ok(Self {
                    store,
                    local_root: None,
                    description,
                })
            }
        }
    }

    pub fn local(root: &Path) -> Result<Self, VaultError> {
        crate::private_files::create_private_dir(root)
            .map_err(|e| VaultError::StoreConfig(format!("{}: {e}", root.display())))?;
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| VaultError::StoreConfig(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            local_root: Some(root.to_path_buf()),
            description: format!("local folder {}", root.display()),
        })
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// Fan blobs out over 256 folders so no directory grows huge.
    pub fn path_of(blob_id: &str) -> ObjectPath {
        let fan = blob_id.get(..2).unwrap_or("00");
        ObjectPath::from(format!("blobs/{fan}/{blob_id}"))
    }

    /// On local disk, `object_store` renames the finished file into place but does not
    /// fsync: do it, so "stored" means "survives a power cut" before the job row exists.
    pub(super) async fn make_durable(&self, path: &ObjectPath) -> Result<(), VaultError> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let file = root.join(path.as_ref());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&file)?.sync_all()?;
            if let Some(dir) = file.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| VaultError::Store(std::io::Error::other(e)))?
        .map_err(VaultError::Store)
    }

    /// Removes upload staging files (`<blob>#<n>`) that a killed process left on
    /// local disk; the store's own listing never shows them. Returns how many.
    pub(super) async fn sweep_local_staging(&self, min_age_secs: i64) -> Result<u64, VaultError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(0);
        };
        let cutoff = std::time::SystemTime::now()
            - std::time::Duration::from_secs(min_age_secs.max(0) as u64);
        tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let mut removed = 0;
            let Ok(fans) = std::fs::read_dir(root.join("blobs")) else {
                return Ok(0);
            };
            for fan in fans.flatten() {
                for entry in std::fs::read_dir(fan.path())?.flatten() {
                    let stale = entry.metadata()?.modified()? <= cutoff;
                    if entry.file_name().to_string_lossy().contains('#') && stale {
                        std::fs::remove_file(entry.path())?;
                        removed += 1;
                    }
                }
            }
            Ok(removed)
        })
        .await
        .map_err(|e| VaultError::Store(std::io::Error::other(e)))?
        .map_err(VaultError::Store)
    }

    /// A request that proves the store answers (a missing object is a fine answer).
    pub async fn check(&self) -> Result<(), VaultError> {
        match self.store.head(&ObjectPath::from("readiness-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(VaultError::StoreConfig(format!(
                "{}: {e}",
                self.description
            ))),
        }
    }
}
