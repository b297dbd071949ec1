//! The vault seals bytes and keeps keys. It knows blobs, not jobs: a caller hands it a
//! [`BlobId`] and a byte stream and gets back a [`SealedBlob`]; opening gives back the
//! plaintext stream. Every blob has its own random data key, wrapped by the master key.

use std::path::Path;

use futures_util::TryStreamExt;
use hmac::{Hmac, KeyInit, Mac};
use object_store::buffered::BufWriter;
use object_store::{GetResultPayload, ObjectStoreExt};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio_util::io::StreamReader;
use zeroize::Zeroizing;

use crate::db::{Db, DbError};

pub mod keys;
pub mod local;
pub mod master;
pub mod store;
pub mod stream;

pub use keys::{DataKey, MasterKey};
pub use master::{MasterKeySource, ResolvedMasterKey};
pub use store::BlobStore;
pub use stream::SealedReader;

/// Errors of the vault. `Corrupt` and `WrongKey` mean the bytes will never open.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the master key does not open this installation's data ({0})")]
    MasterKeyMismatch(String),
    #[error("invalid master key: {0}")]
    BadMasterKey(String),
    #[error("a wrapped key did not open (wrong master key or modified record)")]
    WrongKey,
    #[error("sealed blob is corrupt: {0}")]
    Corrupt(String),
    #[error("encryption failed")]
    Crypto,
    #[error("blob not found")]
    NotFound,
    #[error("blob store misconfigured or unreachable: {0}")]
    StoreConfig(String),
    #[error("blob store error: {0}")]
    Store(std::io::Error),
    #[error("reading the document failed: {0}")]
    Source(std::io::Error),
    #[error("writing the document out failed: {0}")]
    Sink(std::io::Error),
    #[error("master key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<object_store::Error> for VaultError {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { .. } => VaultError::NotFound,
            other => VaultError::Store(std::io::Error::other(other)),
        }
    }
}

/// A blob's name: a random UUID made by the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobId(String);

impl BlobId {
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// Accepts only the UUID text form, so a blob id can never name another path.
    pub fn parse(text: &str) -> Option<Self> {
        uuid::Uuid::parse_str(text)
            .ok()
            .map(|u| Self(u.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What sealing produced: the blob is durable and its wrapped key recorded.
#[derive(Debug, Clone)]
pub struct SealedBlob {
    pub id: BlobId,
    pub plain_size: u64,
    pub sealed_size: u64,
}

/// Meta names in the database.
const META_LOOKUP_KEY: &str = "lookup_key";
const LOOKUP_CONTEXT: &[u8] = b"printpark lookup-key v1";

/// Keys plus the blob store.
#[derive(Clone)]
pub struct Vault {
    db: Db,
    store: BlobStore,
    master: MasterKey,
    lookup_key: std::sync::Arc<Zeroizing<Vec<u8>>>,
    chunk_size: usize,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("store", &self.store.description())
            .field("master", &self.master)
            .finish()
    }
}

impl Vault {
    /// Opens the vault with a master key already checked against the database
    /// (see [`master::resolve`]), creating the server's lookup secret on first start.
    pub async fn open(
        db: Db,
        store: BlobStore,
        master: MasterKey,
        chunk_size: usize,
    ) -> Result<Self, VaultError> {
        let candidate = master.wrap(&keys::random_bytes::<32>(), LOOKUP_CONTEXT)?;
        let stored = db.init_vault_meta(META_LOOKUP_KEY, &candidate).await?;
        let lookup_key = master.unwrap(&stored, LOOKUP_CONTEXT)?;
        Ok(Self {
            db,
            store,
            master,
            lookup_key: std::sync::Arc::new(lookup_key),
            chunk_size,
        })
    }

    pub fn store(&self) -> &BlobStore {
        &self.store
    }

    pub fn master_key_id(&self) -> String {
        self.master.id()
    }

    /// A keyed hash (HMAC-SHA-256 under the server's lookup secret) for credentials
    /// that must be found by value but never read back: session tokens, app passwords,
    /// badge numbers. `purpose` separates the uses.
    pub fn keyed_hash(&self, purpose: &str, value: &[u8]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.lookup_key.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value);
        mac.finalize().into_bytes().to_vec()
    }

    /// Seals a secret the server must use again (an SNMP community or v3 key), so the
    /// database alone does not reveal it. The key is derived from the lookup secret,
    /// which survives master key rotation; `purpose` is bound as associated data.
    pub fn seal_secret(&self, purpose: &str, secret: &[u8]) -> Result<Vec<u8>, VaultError> {
        self.secrets_key().wrap(secret, purpose.as_bytes())
    }

    /// Opens what [`Vault::seal_secret`] made for the same `purpose`.
    pub fn open_secret(
        &self,
        purpose: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.secrets_key().unwrap(sealed, purpose.as_bytes())
    }

    fn secrets_key(&self) -> MasterKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&self.keyed_hash("stored-secrets-key", b"v1"));
        MasterKey::from_bytes(bytes)
    }

    /// Seals everything `reader` yields under a fresh data key and stores it. When this
    /// returns, the blob is durable and its wrapped key recorded; on any error nothing
    /// usable is left behind (a partial upload is aborted).
    pub async fn seal<R: AsyncRead + Unpin>(
        &self,
        id: &BlobId,
        reader: &mut R,
    ) -> Result<SealedBlob, VaultError> {
        let key = DataKey::generate();
        let wrapped = key.wrap(&self.master, id.as_str())?;
        let path = BlobStore::path_of(id.as_str());
        let mut writer =
            BufWriter::with_capacity(self.store.object_store(), path.clone(), 8 * 1024 * 1024)
                .with_max_concurrency(2);
        let mut sealer = stream::ChunkSealer::new(&key, id.as_str(), self.chunk_size);
        let sealed = stream::seal_to_writer(&mut sealer, reader, &mut writer).await;
        let (plain_size, sealed_size) = match sealed {
            Ok(sizes) => sizes,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e);
            }
        };
        writer.shutdown().await.map_err(VaultError::Store)?;
        self.store.make_durable(&path).await?;
        if let Err(e) = self
            .db
            .insert_sealed_blob(
                id.as_str(),
                &wrapped,
                &self.master.id(),
                plain_size as i64,
                sealed_size as i64,
            )
            .await
        {
            let _ = self.store.store.delete(&path).await;
            return Err(e.into());
        }
        Ok(SealedBlob {
            id: id.clone(),
            plain_size,
            sealed_size,
        })
    }

    /// Opens a blob for reading; the returned reader authenticates every chunk and
    /// fails on any change or truncation.
    pub async fn open_blob(
        &self,
        id: &BlobId,
    ) -> Result<SealedReader<Box<dyn AsyncRead + Unpin + Send>>, VaultError> {
        let row = self
            .db
            .sealed_blob(id.as_str())
            .await
            .map_err(|e| match e {
                DbError::NotFound => VaultError::NotFound,
                other => other.into(),
            })?;
        let key = DataKey::unwrap(&self.master, &row.wrapped_key, id.as_str())?;
        let result = self
            .store
            .store
            .get(&BlobStore::path_of(id.as_str()))
            .await?;
        let reader: Box<dyn AsyncRead + Unpin + Send> = match result.payload {
            // Local disk: read the file directly in large blocks instead of through
            // the store's small-chunk stream (several times faster).
            GetResultPayload::File(file, _) => Box::new(tokio::io::BufReader::with_capacity(
                256 * 1024,
                tokio::fs::File::from_std(file),
            )),
            GetResultPayload::Stream(stream) => {
                Box::new(StreamReader::new(stream.map_err(std::io::Error::other)))
            }
        };
        Ok(SealedReader::new(reader, key, id.as_str()))
    }

    /// Crypto-shreds then deletes a blob: the wrapped key goes first, so even if the
    /// object delete fails the bytes can no longer be opened (the sweeper removes it).
    pub async fn purge(&self, id: &BlobId) -> Result<(), VaultError> {
        self.db.delete_sealed_blob(id.as_str()).await?;
        match self
            .store
            .store
            .delete(&BlobStore::path_of(id.as_str()))
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes stored objects that have no wrapped key (left by a crash between upload
    /// and record), if older than `min_age_secs` so in-flight uploads are spared.
    pub async fn sweep_orphans(&self, min_age_secs: i64) -> Result<u64, VaultError> {
        let known: std::collections::HashSet<String> =
            self.db.sealed_blob_ids().await?.into_iter().collect();
        let cutoff = time::OffsetDateTime::now_utc().unix_timestamp() - min_age_secs;
        let mut listing = self
            .store
            .store
            .list(Some(&object_store::path::Path::from("blobs")));
        let mut removed = 0;
        while let Some(meta) = listing.try_next().await? {
            let name = meta.location.filename().unwrap_or_default().to_owned();
            if known.contains(&name) || meta.last_modified.timestamp() > cutoff {
                continue;
            }
            self.store.store.delete(&meta.location).await?;
            removed += 1;
        }
        removed += self.store.sweep_local_staging(min_age_secs).await?;
        Ok(removed)
    }

    /// Re-wraps every data key and server secret under `new`; documents are not
    /// re-encrypted. Each round commits in one transaction; rounds repeat until no key
    /// is left under another master key (catching blobs sealed meanwhile). Stop every
    /// server first: a process still holding the old key keeps wrapping with it.
    /// Returns how many blob keys were re-wrapped.
    pub async fn rewrap_all(&self, new: &MasterKey) -> Result<usize, VaultError> {
        let lookup = new.wrap(self.lookup_key.as_slice(), LOOKUP_CONTEXT)?;
        let check = master::key_check_value(new)?;
        let mut meta = vec![(META_LOOKUP_KEY, lookup), (master::META_KEY_CHECK, check)];
        let mut total = 0;
        loop {
            let wrapped = self.db.wrapped_keys_not_under(&new.id()).await?;
            if wrapped.is_empty() && meta.is_empty() {
                return Ok(total);
            }
            let mut rewrapped = Vec::with_capacity(wrapped.len());
            for (blob_id, old) in wrapped {
                let key = DataKey::unwrap(&self.master, &old, &blob_id)?;
                rewrapped.push((blob_id.clone(), key.wrap(new, &blob_id)?));
            }
            self.db.rewrap_all(&rewrapped, &new.id(), &meta).await?;
            total += rewrapped.len();
            meta.clear();
        }
    }

    /// How many blobs are wrapped under a master key other than this one (after an
    /// unsafe rotation); they cannot be opened.
    pub async fn foreign_key_count(&self) -> Result<usize, VaultError> {
        Ok(self
            .db
            .wrapped_keys_not_under(&self.master.id())
            .await?
            .len())
    }
}

/// Writes a key file readable by its owner only, replacing any file atomically.
pub fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), VaultError> {
    master::write_key_file(path, key)
}
