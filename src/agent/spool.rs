//! Where the agent keeps a fetched document until the printer took it: files under
//! the state directory, sealed (AES-256-GCM chunks, the vault's stream format) with
//! keys that live only in this process's memory. A document is fetched whole before
//! anything is sent, so a server or network that fails mid-fetch leaves the printer
//! untouched; a spool left by a killed process cannot be opened by anyone and is
//! deleted at the next start.

use std::path::{Path, PathBuf};

use tokio::io::AsyncRead;

use super::AgentError;
use crate::release::push::{DocumentSource, OpenDocument};
use crate::vault::{MasterKey, local};

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    /// Wraps each document's key; never written anywhere.
    key: MasterKey,
}

/// One sealed document on disk.
#[derive(Debug)]
pub struct SpooledDocument {
    path: PathBuf,
    name: String,
    wrapped_key: Vec<u8>,
    /// Plaintext bytes.
    pub size: u64,
}

impl Spool {
    /// Empties `dir` (what an earlier process left cannot be opened) and uses it.
    pub fn open(dir: &Path) -> Result<Self, AgentError> {
        let fail = |e: std::io::Error| AgentError::State(format!("{}: {e}", dir.display()));
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(fail)?;
        }
        std::fs::create_dir_all(dir).map_err(fail)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            key: MasterKey::generate(),
        })
    }

    /// Seals everything `reader` yields into a new spool file.
    pub async fn write(
        &self,
        reader: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<SpooledDocument, AgentError> {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let path = self.dir.join(&name);
        let (wrapped_key, size) = local::seal_file(&self.key, &name, &path, reader, false)
            .await
            .map_err(|e| {
                AgentError::Unreachable(format!("fetching the document broke off: {e}"))
            })?;
        Ok(SpooledDocument {
            path,
            name,
            wrapped_key,
            size,
        })
    }

    async fn read(
        &self,
        document: &SpooledDocument,
    ) -> std::io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        local::open_file(
            &self.key,
            &document.name,
            &document.path,
            &document.wrapped_key,
        )
        .await
    }
}

impl SpooledDocument {
    pub async fn remove(&self) {
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}

/// A fetched job's documents, as push delivery reads them.
pub struct SpooledJob<'a> {
    pub spool: &'a Spool,
    pub documents: &'a [SpooledDocument],
}

impl DocumentSource for SpooledJob<'_> {
    fn count(&self) -> u32 {
        self.documents.len() as u32
    }

    fn open(&mut self, number: u32) -> OpenDocument<'_> {
        let spool = self.spool;
        let document = self.documents.get(number.saturating_sub(1) as usize);
        Box::pin(async move {
            match document {
                Some(document) => spool.read(document).await,
                None => Err(std::io::Error::other(format!("no document {number}"))),
            }
        })
    }

    fn size_hint(&self, number: u32) -> Option<u64> {
        self.documents
            .get(number.saturating_sub(1) as usize)
            .map(|d| d.size)
    }
}
