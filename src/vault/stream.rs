//! The sealed stream format.
//!
//! ```text
//! header (16 bytes): "PPSB" | version=1 | 3 zero bytes | chunk size (u32 BE) | 4 zero bytes
//! chunk i          : AES-256-GCM(plaintext[i*size .. (i+1)*size]) || tag(16)
//! ```
//! Every chunk but the last holds exactly `chunk size` plaintext bytes; the last holds
//! 0..=size. Each chunk's associated data is `header || blob id || i (u64 BE) || last`,
//! and its nonce `i (u64 BE) || 0 0 0 || last`. A data key seals exactly one blob, so
//! nonces never repeat under a key. Reordering, splicing blobs, flipping a bit, or
//! cutting the stream at any point (even at a chunk boundary, since the final chunk
//! carries the `last` flag) makes opening fail.

use aes_gcm::{AeadInOut, Aes256Gcm, Nonce, Tag};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::VaultError;
use super::keys::DataKey;

const MAGIC: &[u8; 4] = b"PPSB";
const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 16;
pub const TAG_LEN: usize = 16;

fn header(chunk_size: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(MAGIC);
    h[4] = VERSION;
    h[8..12].copy_from_slice(&chunk_size.to_be_bytes());
    h
}

fn nonce(index: u64, last: bool) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::from(n)
}

/// Associated data shared by every chunk of one blob; the index and flag are appended.
struct ChunkContext {
    aad: Vec<u8>,
    prefix_len: usize,
}

impl ChunkContext {
    fn new(header: &[u8; HEADER_LEN], blob_id: &str) -> Self {
        let mut aad = Vec::with_capacity(HEADER_LEN + blob_id.len() + 9);
        aad.extend_from_slice(header);
        aad.extend_from_slice(blob_id.as_bytes());
        let prefix_len = aad.len();
        Self { aad, prefix_len }
    }

    fn for_chunk(&mut self, index: u64, last: bool) -> &[u8] {
        self.aad.truncate(self.prefix_len);
        self.aad.extend_from_slice(&index.to_be_bytes());
        self.aad.push(u8::from(last));
        &self.aad
    }
}

/// Seals chunk after chunk, in order.
pub struct ChunkSealer {
    cipher: Aes256Gcm,
    context: ChunkContext,
    header: [u8; HEADER_LEN],
    index: u64,
    chunk_size: usize,
    finished: bool,
}

impl ChunkSealer {
    pub fn new(key: &DataKey, blob_id: &str, chunk_size: usize) -> Self {
        let header = header(chunk_size as u32);
        Self {
            cipher: key.cipher(),
            context: ChunkContext::new(&header, blob_id),
            header,
            index: 0,
            chunk_size,
            finished: false,
        }
    }

    pub fn header(&self) -> &[u8; HEADER_LEN] {
        &self.header
    }

    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Encrypts `chunk` in place and appends its tag.
    pub fn seal(&mut self, chunk: &mut Vec<u8>, last: bool) -> Result<(), VaultError> {
        if self.finished
            || chunk.len() > self.chunk_size
            || (!last && chunk.len() != self.chunk_size)
        {
            return Err(VaultError::Crypto);
        }
        let aad = self.context.for_chunk(self.index, last);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce(self.index, last), aad, chunk.as_mut_slice().into())
            .map_err(|_| VaultError::Crypto)?;
        chunk.extend_from_slice(tag.as_slice());
        self.index += 1;
        self.finished = last;
        Ok(())
    }
}

/// Opens chunk after chunk, in order, refusing anything after the last.
pub struct ChunkOpener {
    cipher: Aes256Gcm,
    context: ChunkContext,
    index: u64,
    chunk_size: usize,
    finished: bool,
}

impl ChunkOpener {
    pub fn new(key: &DataKey, blob_id: &str, head: &[u8]) -> Result<Self, VaultError> {
        if head.len() != HEADER_LEN || &head[..4] != MAGIC || head[4] != VERSION {
            return Err(VaultError::Corrupt("not a sealed blob (bad header)".into()));
        }
        let chunk_size = u32::from_be_bytes([head[8], head[9], head[10], head[11]]) as usize;
        if !(1..=64 * 1024 * 1024).contains(&chunk_size) {
            return Err(VaultError::Corrupt("bad chunk size in header".into()));
        }
        let header = header(chunk_size as u32);
        if header[..] != head[..] {
            return Err(VaultError::Corrupt("bad header".into()));
        }
        Ok(Self {
            cipher: key.cipher(),
            context: ChunkContext::new(&header, blob_id),
            index: 0,
            chunk_size,
            finished: false,
        })
    }

    /// Bytes of one full sealed chunk on the wire.
    pub fn sealed_chunk_len(&self) -> usize {
        self.chunk_size + TAG_LEN
    }

    /// Decrypts `chunk` (ciphertext || tag) in place, leaving the plaintext.
    pub fn open(&mut self, chunk: &mut Vec<u8>, last: bool) -> Result<(), VaultError> {
        if self.finished {
            return Err(VaultError::Corrupt("data after the final chunk".into()));
        }
        if chunk.len() < TAG_LEN || chunk.len() > self.sealed_chunk_len() {
            return Err(VaultError::Corrupt(format!(
                "chunk {} has a bad length",
                self.index
            )));
        }
        let body_len = chunk.len() - TAG_LEN;
        let tag = Tag::try_from(&chunk[body_len..]).map_err(|_| VaultError::Crypto)?;
        let aad = self.context.for_chunk(self.index, last);
        self.cipher
            .decrypt_inout_detached(
                &nonce(self.index, last),
                aad,
                chunk[..body_len].as_mut().into(),
                &tag,
            )
            .map_err(|_| {
                VaultError::Corrupt(if last {
                    format!(
                        "chunk {} failed authentication (modified or truncated)",
                        self.index
                    )
                } else {
                    format!("chunk {} failed authentication (modified)", self.index)
                })
            })?;
        chunk.truncate(body_len);
        self.index += 1;
        self.finished = last;
        Ok(())
    }
}

/// Tops `buf` up (it may already hold some bytes) until it holds `want` bytes or the
/// reader ends; returns whether it ended. Not `ipp::client::fill`: this one grows a
/// `Vec` into its spare capacity, so a sealed chunk is read without zeroing it first.
async fn top_up<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    want: usize,
) -> std::io::Result<bool> {
    while buf.len() < want {
        let n = (&mut *reader)
            .take((want - buf.len()) as u64)
            .read_buf(buf)
            .await?;
        if n == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Seals everything `reader` yields into `writer`. Memory use is two chunks, whatever
/// the length. Returns (plaintext bytes, sealed bytes). Does not flush or shut down `writer`.
pub async fn seal_to_writer<R, W>(
    sealer: &mut ChunkSealer,
    reader: &mut R,
    writer: &mut W,
) -> Result<(u64, u64), VaultError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let size = sealer.chunk_size();
    writer
        .write_all(sealer.header())
        .await
        .map_err(VaultError::Store)?;
    let mut plain_total = 0u64;
    let mut sealed_total = HEADER_LEN as u64;
    let mut current = Vec::with_capacity(size + TAG_LEN);
    let mut next = Vec::with_capacity(size + TAG_LEN);
    let mut ended = top_up(reader, &mut current, size)
        .await
        .map_err(VaultError::Source)?;
    loop {
        // A full chunk is the last only if nothing follows it: read one chunk ahead.
        let last = if ended {
            true
        } else {
            next.clear();
            ended = top_up(reader, &mut next, size)
                .await
                .map_err(VaultError::Source)?;
            next.is_empty()
        };
        plain_total += current.len() as u64;
        sealer.seal(&mut current, last)?;
        sealed_total += current.len() as u64;
        writer
            .write_all(&current)
            .await
            .map_err(VaultError::Store)?;
        if last {
            return Ok((plain_total, sealed_total));
        }
        std::mem::swap(&mut current, &mut next);
    }
}

/// Opens a sealed stream chunk by chunk.
pub struct SealedReader<R> {
    reader: R,
    opener: Option<ChunkOpener>,
    key: Option<DataKey>,
    blob_id: String,
    /// One chunk's worth of buffer, reused for every chunk.
    buf: Vec<u8>,
    /// The byte read past a full chunk to learn whether it was the last.
    peeked: Option<u8>,
    done: bool,
}

impl<R: AsyncRead + Unpin> SealedReader<R> {
    pub fn new(reader: R, key: DataKey, blob_id: &str) -> Self {
        Self {
            reader,
            opener: None,
            key: Some(key),
            blob_id: blob_id.to_owned(),
            buf: Vec::new(),
            peeked: None,
            done: false,
        }
    }

    /// Opens the next chunk into the internal buffer; `None` after the authenticated
    /// final chunk. The slice is valid until the next call.
    pub async fn next_chunk_ref(&mut self) -> Result<Option<&[u8]>, VaultError> {
        if self.done {
            return Ok(None);
        }
        if self.opener.is_none() {
            let mut head = Vec::with_capacity(HEADER_LEN);
            top_up(&mut self.reader, &mut head, HEADER_LEN)
                .await
                .map_err(VaultError::Store)?;
            let key = self.key.take().ok_or(VaultError::Crypto)?;
            let opener = ChunkOpener::new(&key, &self.blob_id, &head)?;
            self.buf = Vec::with_capacity(opener.sealed_chunk_len());
            self.opener = Some(opener);
        }
        let opener = self.opener.as_mut().ok_or(VaultError::Crypto)?;
        let want = opener.sealed_chunk_len();
        self.buf.clear();
        self.buf.extend(self.peeked.take());
        let ended = top_up(&mut self.reader, &mut self.buf, want)
            .await
            .map_err(VaultError::Store)?;
        let last = if ended {
            true
        } else {
            // A full chunk is the last only if no byte follows it.
            let mut one = [0u8; 1];
            let n = self
                .reader
                .read(&mut one)
                .await
                .map_err(VaultError::Store)?;
            self.peeked = (n == 1).then_some(one[0]);
            n == 0
        };
        opener.open(&mut self.buf, last)?;
        self.done = last;
        Ok(Some(&self.buf))
    }

    /// The next plaintext chunk as owned bytes (for streaming into HTTP bodies).
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, VaultError> {
        Ok(self.next_chunk_ref().await?.map(Bytes::copy_from_slice))
    }

    /// The plaintext as an `AsyncRead` (for code that takes readers, like delivery
    /// to a printer). A chunk that fails authentication ends the read with an error,
    /// never with unauthenticated bytes.
    pub fn into_async_read(self) -> impl AsyncRead + Send + Unpin + 'static
    where
        R: Send + 'static,
    {
        let chunks = futures_util::stream::unfold(Some(self), |state| async move {
            let mut reader = state?;
            match reader.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(reader))),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e)), None)),
            }
        });
        tokio_util::io::StreamReader::new(Box::pin(chunks))
    }

    /// Copies all plaintext into `writer`; returns the byte count.
    pub async fn copy_to<W: AsyncWrite + Unpin>(
        &mut self,
        writer: &mut W,
    ) -> Result<u64, VaultError> {
        let mut total = 0u64;
        while let Some(chunk) = self.next_chunk_ref().await? {
            total += chunk.len() as u64;
            writer.write_all(chunk).await.map_err(VaultError::Sink)?;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn seal(data: &[u8], key: &DataKey, chunk: usize) -> Vec<u8> {
        let mut sealer = ChunkSealer::new(key, "blob", chunk);
        let mut out = Vec::new();
        let mut reader = data;
        let (plain, sealed) = seal_to_writer(&mut sealer, &mut reader, &mut out)
            .await
            .unwrap();
        assert_eq!(plain as usize, data.len());
        assert_eq!(sealed as usize, out.len());
        out
    }

    async fn open(sealed: &[u8], key: DataKey, blob: &str) -> Result<Vec<u8>, VaultError> {
        let mut reader = SealedReader::new(sealed, key, blob);
        let mut out = Vec::new();
        reader.copy_to(&mut out).await?;
        Ok(out)
    }

    fn clone_key(key: &DataKey, master: &super::super::keys::MasterKey) -> DataKey {
        DataKey::unwrap(master, &key.wrap(master, "k").unwrap(), "k").unwrap()
    }

    #[tokio::test]
    async fn every_length_around_chunk_boundaries_round_trips() {
        let master = super::super::keys::MasterKey::generate();
        let key = DataKey::generate();
        for len in [0usize, 1, 4095, 4096, 4097, 8192, 8193, 20000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let sealed = seal(&data, &key, 4096).await;
            let opened = open(&sealed, clone_key(&key, &master), "blob")
                .await
                .unwrap();
            assert_eq!(opened, data, "length {len}");
        }
    }

    #[tokio::test]
    async fn truncation_at_a_chunk_boundary_is_detected() {
        let master = super::super::keys::MasterKey::generate();
        let key = DataKey::generate();
        let data = vec![42u8; 4096 * 3];
        let sealed = seal(&data, &key, 4096).await;
        // Keep the header and the first two full chunks: a clean cut between chunks.
        let cut = HEADER_LEN + 2 * (4096 + TAG_LEN);
        assert!(
            open(&sealed[..cut], clone_key(&key, &master), "blob")
                .await
                .is_err()
        );
        assert!(
            open(
                &sealed[..sealed.len() - 1],
                clone_key(&key, &master),
                "blob"
            )
            .await
            .is_err()
        );
        assert!(
            open(&sealed, clone_key(&key, &master), "other-blob")
                .await
                .is_err()
        );
    }
}
