//! Hashing of human-chosen secrets (passwords, PINs) with Argon2id, and generation of
//! machine-made ones (session tokens, app passwords, PINs handed out by admins).

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::IdentityError;
use crate::vault::keys::random_bytes;

/// Purpose label of the keyed hash under which app passwords are stored.
pub const APP_PASSWORD_PURPOSE: &str = "app-password";

/// Argon2id cost, from `security.argon2_*`.
#[derive(Debug, Clone, Copy)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

fn argon(cost: HashCost) -> Result<Argon2<'static>, IdentityError> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| IdentityError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Argon2 runs on a few threads of its own, one hash per core at a time: each hash
/// takes `security.argon2_memory_kib` (19 MiB by default), and on the general blocking
/// pool a burst of sign-ins (CUPS sends Basic credentials with every request) would
/// run hundreds at once and leave that memory in as many allocator arenas. Waiting
/// requests queue here, costing only their closure.
struct ArgonThreads {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>>,
}

static ARGON_THREADS: std::sync::LazyLock<ArgonThreads> = std::sync::LazyLock::new(|| {
    let (tx, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(8);
    for i in 0..threads {
        let rx = rx.clone();
        // A thread that cannot start leaves fewer; with none, the channel's receiver is
        // dropped and every hash answers "the Argon2 threads are gone" instead of a panic.
        let started = std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "could not start an Argon2 thread");
        }
    }
    ArgonThreads {
        jobs: std::sync::Mutex::new(tx),
    }
});

/// Runs `work` on the Argon2 threads; `None` if they are gone.
async fn on_argon_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Box<dyn FnOnce() + Send> = Box::new(move || {
        let _ = tx.send(work());
    });
    ARGON_THREADS.jobs.lock().ok()?.send(job).ok()?;
    rx.await.ok()
}

/// Hashes a secret to a PHC string, off the async threads (it takes tens of ms on purpose).
pub async fn hash_secret(cost: HashCost, secret: &str) -> Result<String, IdentityError> {
    let secret = zeroize::Zeroizing::new(secret.as_bytes().to_vec());
    on_argon_thread(move || {
        let salt: [u8; 16] = random_bytes();
        argon(cost)?
            .hash_password_with_salt(&secret, &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| IdentityError::Internal(format!("argon2: {e}")))
    })
    .await
    .ok_or_else(|| IdentityError::Internal("the argon2 threads stopped".into()))?
}

/// Verifies in constant time for the secret's length. With no stored hash (unknown
/// user, no PIN set) it still spends the same work on a dummy hash, so timing does not
/// reveal which accounts exist.
pub async fn verify_secret(cost: HashCost, stored: Option<String>, secret: &str) -> bool {
    let secret = zeroize::Zeroizing::new(secret.as_bytes().to_vec());
    on_argon_thread(move || {
        match stored {
            Some(stored) => verify_reusing_memory(&stored, &secret),
            None => {
                // Unknown user or no PIN: the same work on a dummy hash, then no.
                let _ = verify_reusing_memory(DUMMY_HASH.get_or_init(|| dummy_hash(cost)), &secret);
                false
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// A hash of nothing, for unknown users: the same work as a real check.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn dummy_hash(cost: HashCost) -> String {
    argon(cost)
        .and_then(|argon| {
            argon
                .hash_password_with_salt(b"", &[0u8; 16])
                .map(|h| h.to_string())
                .map_err(|e| IdentityError::Internal(format!("argon2: {e}")))
        })
        .unwrap_or_default()
}

thread_local! {
    /// Each Argon2 thread keeps its memory blocks between checks instead of
    /// allocating (and leaving behind) 19 MiB per sign-in.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Verifies `secret` against a PHC string with this thread's reusable blocks, comparing
/// the outputs in constant time. The parameters come from the stored hash, so hashes
/// made under an older cost still verify.
fn verify_reusing_memory(stored: &str, secret: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = hash.version.map_or(Ok(Version::V0x13), Version::try_from) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = zeroize::Zeroizing::new(vec![0u8; expected.len()]);
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        blocks.resize(params.block_count(), argon2::Block::default());
        let computed = argon.hash_password_into_with_memory(
            secret,
            salt.as_ref(),
            &mut out,
            &mut blocks[..params.block_count()],
        );
        computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
    })
}

/// A random bearer secret (session token), 256 bits, URL-safe.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// An app password: `pp-` and 4 groups of 5 characters from an unambiguous alphabet
/// (100 random bits), easy to type on a phone.
pub fn new_app_password() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let bytes: [u8; 20] = random_bytes();
    let mut out = String::from("pp");
    for (i, b) in bytes.iter().enumerate() {
        if i % 5 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[(*b & 31) as usize] as char);
    }
    out
}

/// A uniformly random numeric PIN of `digits` digits.
pub fn new_pin(digits: u32) -> String {
    let bound = 10u64.pow(digits);
    // Rejection sampling keeps every PIN equally likely.
    let zone = u64::MAX - (u64::MAX % bound);
    loop {
        let n = u64::from_le_bytes(random_bytes());
        if n < zone {
            return format!("{:0width$}", n % bound, width = digits as usize);
        }
    }
}

pub fn looks_like_app_password(secret: &str) -> bool {
    secret.len() == 26 && secret.starts_with("pp-")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashCost = HashCost {
        memory_kib: 8 * 1024,
        iterations: 1,
    };

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hash = hash_secret(CHEAP, "correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_secret(CHEAP, Some(hash.clone()), "correct horse").await);
        assert!(!verify_secret(CHEAP, Some(hash), "correct horsf").await);
        assert!(!verify_secret(CHEAP, None, "anything").await);
    }

    #[tokio::test]
    async fn hashes_made_under_another_cost_still_verify_on_the_reused_memory() {
        let older = HashCost {
            memory_kib: 16 * 1024,
            iterations: 2,
        };
        let big = hash_secret(older, "kept from before").await.unwrap();
        let small = hash_secret(CHEAP, "made today").await.unwrap();
        // Alternate so each thread's buffer shrinks and grows between costs.
        for _ in 0..3 {
            assert!(verify_secret(CHEAP, Some(big.clone()), "kept from before").await);
            assert!(verify_secret(CHEAP, Some(small.clone()), "made today").await);
            assert!(!verify_secret(CHEAP, Some(big.clone()), "made today").await);
        }
        assert!(!verify_secret(CHEAP, Some("not a PHC string".into()), "x").await);
    }

    #[tokio::test]
    async fn a_burst_of_verifications_queues_on_the_argon_threads_and_all_answer() {
        let hash = hash_secret(CHEAP, "burst").await.unwrap();
        let checks = (0..32).map(|i| {
            let hash = hash.clone();
            tokio::spawn(async move {
                let secret = if i % 2 == 0 { "burst" } else { "wrong" };
                verify_secret(CHEAP, Some(hash), secret).await == (i % 2 == 0)
            })
        });
        for check in checks {
            assert!(check.await.unwrap());
        }
    }

    #[test]
    fn generated_secrets_have_their_shapes() {
        let app = new_app_password();
        assert!(looks_like_app_password(&app), "{app}");
        assert_ne!(app, new_app_password());
        let pin = new_pin(6);
        assert_eq!(pin.len(), 6);
        assert!(pin.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(new_token().len(), 43);
    }
}
