//! Sealed files outside the blob store — the on-site agent's spool and the jobs a
//! workstation keeps — and the site key they may be sealed with. Same stream format as
//! blobs (AES-256-GCM chunks, `stream.rs`); each file has its own data key, wrapped by
//! a key the caller holds (a per-process key, or the site key).

#![warn(missing_docs)]

use std::path::Path;

use tokio::io::{AsyncRead, AsyncWriteExt};

use super::stream::{ChunkSealer, SealedReader, seal_to_writer};
use super::{DataKey, MasterKey, VaultError};

const CHUNK: usize = 64 * 1024;

/// Derives the site key: Argon2id (64 MiB, 3 passes) of the site password, salted
/// with the server's site salt. Every agent of a site derives the same key; the
/// server, which never gets the password, cannot.
pub fn site_key(password: &str, site_salt: &[u8]) -> Result<MasterKey, VaultError> {
    let mut salted = b"printpark site key v1:".to_vec();
    salted.extend_from_slice(site_salt);
    MasterKey::derive_from_password(password, &salted)
}

/// Seals everything `reader` yields into `path` under a fresh data key; returns the
/// data key wrapped by `key` (bound to `name`) and the plaintext size. The file appears
/// whole (written beside it, renamed) or not at all; `durable` syncs it to disk first
/// (a job kept for days; not a spool that lives for seconds).
pub async fn seal_file<R: AsyncRead + Unpin + ?Sized>(
    key: &MasterKey,
    name: &str,
    path: &Path,
    reader: &mut R,
    durable: bool,
) -> std::io::Result<(Vec<u8>, u64)> {
    let data_key = DataKey::generate();
    let wrapped = data_key.wrap(key, name).map_err(std::io::Error::other)?;
    let partial = path.with_extension("partial");
    let written = async {
        let mut file = tokio::fs::File::create(&partial).await?;
        let mut sealer = ChunkSealer::new(&data_key, name, CHUNK);
        let mut reader = reader;
        let (plain, _) = seal_to_writer(&mut sealer, &mut reader, &mut file)
            .await
            .map_err(std::io::Error::other)?;
        file.flush().await?;
        if durable {
            file.sync_all().await?;
        }
        tokio::fs::rename(&partial, path).await?;
        Ok::<u64, std::io::Error>(plain)
    }
    .await;
    match written {
        Ok(size) => Ok((wrapped, size)),
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e)
        }
    }
}

/// Opens a file made by [`seal_file`]; every chunk is authenticated as it is read.
pub async fn open_file(
    key: &MasterKey,
    name: &str,
    path: &Path,
    wrapped: &[u8],
) -> std::io::Result<Box<dyn AsyncRead + Send + Unpin>> {
    let data_key = DataKey::unwrap(key, wrapped, name)
        .map_err(|_| std::io::Error::other("the key does not open this file"))?;
    let file = tokio::fs::File::open(path).await?;
    Ok(Box::new(
        SealedReader::new(file, data_key, name).into_async_read(),
    ))
}
