//! Keys: the server's master key (the key-encryption key), per-blob data keys, and the
//! wrapping between them. Key material is zeroed when dropped and never printed.

use std::fmt;

use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit, Nonce, Tag};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::VaultError;

pub const KEY_LEN: usize = 32;
const WRAP_NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Version byte of the wrapped-key format: `1 || nonce(12) || ciphertext(32) || tag(16)`.
const WRAP_VERSION: u8 = 1;

/// Random bytes from the operating system's CSPRNG (through `rand`'s thread RNG,
/// which is reseeded from it).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::fill(&mut out[..]);
    out
}

/// The server's master key. It wraps data keys and server secrets; it never touches
/// document bytes directly.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id())
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        Self {
            bytes: Zeroizing::new(random_bytes()),
        }
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self {
            bytes: Zeroizing::new(bytes),
        }
    }

    /// Parses the base64 text form (as in a key file or environment variable).
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| VaultError::BadMasterKey("not valid base64".into()))?,
        );
        let bytes: [u8; KEY_LEN] = decoded.as_slice().try_into().map_err(|_| {
            VaultError::BadMasterKey(format!(
                "must decode to {KEY_LEN} bytes, got {}",
                decoded.len()
            ))
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// The text form to show once to the admin or to write to the key file.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.bytes.as_slice()))
    }

    /// Derives the key from a password with Argon2id (64 MiB, 3 passes), so a stolen
    /// database does not let anyone test guesses cheaply.
    pub fn derive_from_password(password: &str, salt: &[u8]) -> Result<Self, VaultError> {
        let params = Params::new(64 * 1024, 3, 1, Some(KEY_LEN))
            .map_err(|e| VaultError::BadMasterKey(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut out = [0u8; KEY_LEN];
        argon
            .hash_password_into(password.as_bytes(), salt, &mut out)
            .map_err(|e| VaultError::BadMasterKey(e.to_string()))?;
        let key = Self::from_bytes(out);
        out.zeroize();
        Ok(key)
    }

    /// A short public fingerprint stored next to each wrapped key, so a wrong master
    /// key is told apart from a corrupt record.
    pub fn id(&self) -> String {
        let okm = self.derive::<8>(b"printpark kek-id v1");
        hex::encode(okm)
    }

    /// A 32-byte key for one purpose (e.g. the audit of a check value), independent of
    /// the wrapping key and of every other purpose.
    fn derive<const N: usize>(&self, purpose: &[u8]) -> [u8; N] {
        let hk = Hkdf::<Sha256>::new(None, self.bytes.as_slice());
        let mut out = [0u8; N];
        // N is at most 255 * 32 bytes for every caller in this module.
        let _ = hk.expand(purpose, &mut out);
        out
    }

    fn wrapping_cipher(&self) -> Aes256Gcm {
        let key = Zeroizing::new(self.derive::<KEY_LEN>(b"printpark key-wrap v1"));
        Aes256Gcm::new(&(*key).into())
    }

    /// Wraps a secret (a data key or a server secret) bound to `context`.
    pub fn wrap(&self, secret: &[u8], context: &[u8]) -> Result<Vec<u8>, VaultError> {
        let nonce_bytes: [u8; WRAP_NONCE_LEN] = random_bytes();
        let nonce = Nonce::from(nonce_bytes);
        let mut body = Zeroizing::new(secret.to_vec());
        let tag = self
            .wrapping_cipher()
            .encrypt_inout_detached(&nonce, context, body.as_mut_slice().into())
            .map_err(|_| VaultError::Crypto)?;
        let mut out = Vec::with_capacity(1 + WRAP_NONCE_LEN + secret.len() + TAG_LEN);
        out.push(WRAP_VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&body);
        out.extend_from_slice(tag.as_slice());
        Ok(out)
    }

    /// Opens what [`MasterKey::wrap`] made; fails if the key, the context or any byte differs.
    pub fn unwrap(&self, wrapped: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        if wrapped.len() < 1 + WRAP_NONCE_LEN + TAG_LEN || wrapped[0] != WRAP_VERSION {
            return Err(VaultError::WrongKey);
        }
        let (nonce_bytes, rest) = wrapped[1..].split_at(WRAP_NONCE_LEN);
        let (body, tag_bytes) = rest.split_at(rest.len() - TAG_LEN);
        let nonce = Nonce::try_from(nonce_bytes).map_err(|_| VaultError::WrongKey)?;
        let tag = Tag::try_from(tag_bytes).map_err(|_| VaultError::WrongKey)?;
        let mut plain = Zeroizing::new(body.to_vec());
        self.wrapping_cipher()
            .decrypt_inout_detached(&nonce, context, plain.as_mut_slice().into(), &tag)
            .map_err(|_| VaultError::WrongKey)?;
        Ok(plain)
    }
}

/// A random 256-bit key that seals exactly one blob.
pub struct DataKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl DataKey {
    pub fn generate() -> Self {
        Self {
            bytes: Zeroizing::new(random_bytes()),
        }
    }

    pub fn wrap(&self, master: &MasterKey, blob_id: &str) -> Result<Vec<u8>, VaultError> {
        master.wrap(self.bytes.as_slice(), &data_key_context(blob_id))
    }

    pub fn unwrap(master: &MasterKey, wrapped: &[u8], blob_id: &str) -> Result<Self, VaultError> {
        let plain = master.unwrap(wrapped, &data_key_context(blob_id))?;
        let bytes: [u8; KEY_LEN] = plain
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::WrongKey)?;
        Ok(Self {
            bytes: Zeroizing::new(bytes),
        })
    }

    pub(super) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&(*self.bytes).into())
    }
}

fn data_key_context(blob_id: &str) -> Vec<u8> {
    let mut context = b"printpark data-key v1:".to_vec();
    context.extend_from_slice(blob_id.as_bytes());
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_data_key_opens_only_with_its_master_key_and_blob() {
        let master = MasterKey::generate();
        let other = MasterKey::generate();
        let key = DataKey::generate();
        let wrapped = key.wrap(&master, "blob-a").unwrap();
        let opened = DataKey::unwrap(&master, &wrapped, "blob-a").unwrap();
        assert_eq!(opened.bytes.as_slice(), key.bytes.as_slice());
        assert!(DataKey::unwrap(&other, &wrapped, "blob-a").is_err());
        assert!(DataKey::unwrap(&master, &wrapped, "blob-b").is_err());
    }

    #[test]
    fn master_key_round_trips_through_base64_and_has_a_stable_id() {
        let master = MasterKey::generate();
        let again = MasterKey::from_base64(&master.to_base64()).unwrap();
        assert_eq!(master.id(), again.id());
        assert_ne!(master.id(), MasterKey::generate().id());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    }

    #[test]
    fn password_derivation_depends_on_password_and_salt() {
        let a =
            MasterKey::derive_from_password("correct horse battery", b"salt-one-16bytes").unwrap();
        let b =
            MasterKey::derive_from_password("correct horse battery", b"salt-one-16bytes").unwrap();
        let c =
            MasterKey::derive_from_password("correct horse battery", b"salt-two-16bytes").unwrap();
        assert_eq!(a.id(), b.id());
        assert_ne!(a.id(), c.id());
    }
}
