//! The workstation's sealed store: each job as `{ref}.sealed` (AES-256-GCM chunks,
//! under a data key) beside `{ref}.key` (that key wrapped by the site key), written so
//! a `.sealed` file always has its key; and the store as a document source for push.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWriteExt};

use crate::agent::AgentError;
use crate::release::push;
use crate::vault::{MasterKey, local};

/// Sealed jobs on the workstation: `{ref}.sealed` (AES-256-GCM chunks) and `{ref}.key`
/// (its data key, wrapped by the site key).
pub struct ParkedStore {
    dir: PathBuf,
    key: MasterKey,
}

impl ParkedStore {
    pub fn at(dir: &Path, key: MasterKey) -> Result<Self, AgentError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| AgentError::State(format!("{}: {e}", dir.display())))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            key,
        })
    }

    /// A job's files. References are 32 hex digits (made here, or checked by the
    /// server); anything else names no file, so no path can leave the directory.
    fn paths(&self, reference: &str) -> (PathBuf, PathBuf) {
        let ok = reference.len() == 32 && reference.chars().all(|c| c.is_ascii_hexdigit());
        let reference = if ok { reference } else { "invalid-reference" };
        (
            self.dir.join(format!("{reference}.sealed")),
            self.dir.join(format!("{reference}.key")),
        )
    }

    /// Seals what `reader` yields, synced to disk; the job exists once its sealed file
    /// does (the wrapped key is written first).
    pub async fn park(&self, reader: &mut (dyn AsyncRead + Unpin)) -> std::io::Result<String> {
        let reference = uuid::Uuid::new_v4().simple().to_string();
        let (sealed, key_path) = self.paths(&reference);
        let parked = async {
            // Sealed under a staging name, then the key, then published: a `.sealed`
            // file always has its key beside it.
            let staged = sealed.with_extension("staged");
            let (wrapped, _) =
                local::seal_file(&self.key, &reference, &staged, reader, true).await?;
            tokio::fs::write(&key_path, &wrapped).await?;
            tokio::fs::rename(&staged, &sealed).await
        }
        .await;
        if let Err(e) = parked {
            let _ = tokio::fs::remove_file(sealed.with_extension("staged")).await;
            let _ = tokio::fs::remove_file(&key_path).await;
            return Err(e);
        }
        Ok(reference)
    }

    pub async fn open(
        &self,
        reference: &str,
    ) -> std::io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        let (sealed, key_path) = self.paths(reference);
        let wrapped = tokio::fs::read(&key_path).await?;
        local::open_file(&self.key, reference, &sealed, &wrapped)
            .await
            .map_err(|e| {
                std::io::Error::other(format!(
                    "{e} (the site key does not open this job: was the site password changed?)"
                ))
            })
    }

    /// The sealed file and its wrapped key (base64), for the failover copy.
    pub async fn copy_of(&self, reference: &str) -> std::io::Result<(PathBuf, String)> {
        use base64::Engine;
        let (sealed, key_path) = self.paths(reference);
        let wrapped = tokio::fs::read(&key_path).await?;
        Ok((
            sealed,
            base64::engine::general_purpose::STANDARD.encode(wrapped),
        ))
    }

    /// Takes in another agent's job from its failover copy, as sealed (the site key
    /// opens it here as there).
    pub async fn import(
        &self,
        reference: &str,
        wrapped_b64: &str,
        reader: &mut (dyn AsyncRead + Send + Unpin),
    ) -> std::io::Result<()> {
        use base64::Engine;
        if reference.is_empty() || !reference.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(std::io::Error::other("bad job reference"));
        }
        let wrapped = base64::engine::general_purpose::STANDARD
            .decode(wrapped_b64)
            .map_err(|_| std::io::Error::other("bad wrapped key"))?;
        let (sealed, key_path) = self.paths(reference);
        let partial = sealed.with_extension("partial");
        let mut file = tokio::fs::File::create(&partial).await?;
        let copied = tokio::io::copy(reader, &mut file).await;
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        file.flush().await?;
        tokio::fs::write(&key_path, wrapped).await?;
        tokio::fs::rename(&partial, &sealed).await
    }

    pub async fn remove(&self, reference: &str) {
        let (sealed, key_path) = self.paths(reference);
        let _ = tokio::fs::remove_file(sealed).await;
        let _ = tokio::fs::remove_file(key_path).await;
    }

    /// Every job kept here.
    pub fn references(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_suffix(".sealed")
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A parked job as push delivery reads it.
pub(super) struct ParkedJob<'a> {
    pub(super) store: &'a ParkedStore,
    pub(super) reference: &'a str,
}

impl push::DocumentSource for ParkedJob<'_> {
    fn count(&self) -> u32 {
        1
    }

    fn open(&mut self, _number: u32) -> push::OpenDocument<'_> {
        Box::pin(self.store.open(self.reference))
    }
}
