//! Sealed blobs on local disk and on a real S3-compatible server (moto): no plaintext
//! at rest, tampering and truncation refused, rotation keeps everything readable.

use crate::support;

use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use printpark::services::Services;
use printpark::vault::{BlobId, BlobStore, MasterKey, VaultError};

const MARKER: &[u8] = b"CONFIDENTIAL-SALARY-TABLE-";

/// A document with a recognisable phrase repeated across many chunks.
fn document(len: usize) -> Vec<u8> {
    MARKER.iter().copied().cycle().take(len).collect()
}

async fn services(dir: &std::path::Path, s3: Option<(String, String)>) -> Services {
    let mut settings = support::settings(dir, &support::sqlite_url(dir));
    settings.vault.chunk_size = 4096;
    if let Some((endpoint, bucket)) = &s3 {
        support::use_s3(&mut settings, endpoint, bucket);
    }
    Services::start(settings).await.expect("start")
}

async fn read_all(services: &Services, id: &BlobId) -> Result<Vec<u8>, VaultError> {
    let mut reader = services.vault.open_blob(id).await?;
    let mut out = Vec::new();
    reader.copy_to(&mut out).await?;
    Ok(out)
}

async fn raw(store: &Arc<dyn ObjectStore>, id: &BlobId) -> Vec<u8> {
    store
        .get(&BlobStore::path_of(id.as_str()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

async fn put_raw(store: &Arc<dyn ObjectStore>, id: &BlobId, bytes: Vec<u8>) {
    store
        .put(&BlobStore::path_of(id.as_str()), PutPayload::from(bytes))
        .await
        .unwrap();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The whole property set, on whichever store `services` uses.
async fn sealed_blobs_hide_plaintext_and_refuse_tampering(services: Services) {
    let store = services.vault.store().object_store();
    let plain = document(50_000);
    let id = BlobId::random();
    let sealed = services
        .vault
        .seal(&id, &mut plain.as_slice())
        .await
        .unwrap();
    assert_eq!(sealed.plain_size, plain.len() as u64);

    let at_rest = raw(&store, &id).await;
    assert_eq!(at_rest.len() as u64, sealed.sealed_size);
    assert!(
        !contains(&at_rest, &MARKER[..12]),
        "plaintext found at rest"
    );
    assert_eq!(read_all(&services, &id).await.unwrap(), plain);

    // One flipped bit anywhere in the middle: refused.
    let mut flipped = at_rest.clone();
    flipped[at_rest.len() / 2] ^= 0x01;
    put_raw(&store, &id, flipped).await;
    assert!(matches!(
        read_all(&services, &id).await,
        Err(VaultError::Corrupt(_))
    ));

    // Cut at a chunk boundary (header + 3 whole chunks): refused, not a short document.
    let cut = 16 + 3 * (4096 + 16);
    put_raw(&store, &id, at_rest[..cut].to_vec()).await;
    assert!(matches!(
        read_all(&services, &id).await,
        Err(VaultError::Corrupt(_))
    ));

    // Restored bytes open again; purge makes them unopenable and gone.
    put_raw(&store, &id, at_rest).await;
    assert_eq!(read_all(&services, &id).await.unwrap(), plain);
    services.vault.purge(&id).await.unwrap();
    assert!(matches!(
        read_all(&services, &id).await,
        Err(VaultError::NotFound)
    ));
    assert!(store.head(&BlobStore::path_of(id.as_str())).await.is_err());
}

#[tokio::test]
async fn sealed_blobs_on_local_disk_hide_plaintext_and_refuse_tampering() {
    let dir = tempfile::tempdir().unwrap();
    sealed_blobs_hide_plaintext_and_refuse_tampering(services(dir.path(), None).await).await;
}

#[tokio::test]
async fn sealed_blobs_on_s3_hide_plaintext_and_refuse_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = support::fresh_s3_bucket().await;
    sealed_blobs_hide_plaintext_and_refuse_tampering(services(dir.path(), Some(s3)).await).await;
}

#[tokio::test]
async fn a_multi_part_upload_to_s3_round_trips() {
    // Larger than the 8 MiB buffer, so the store writes a real multipart upload.
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path(), Some(support::fresh_s3_bucket().await)).await;
    let plain = document(20 * 1024 * 1024 + 123);
    let id = BlobId::random();
    services
        .vault
        .seal(&id, &mut plain.as_slice())
        .await
        .unwrap();
    assert_eq!(read_all(&services, &id).await.unwrap(), plain);
}

#[tokio::test]
async fn rotation_rewraps_every_key_and_keeps_every_blob_readable() {
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path(), None).await;
    let mut blobs = Vec::new();
    for n in [0usize, 1, 4096, 10_000] {
        let id = BlobId::random();
        let plain = document(n);
        services
            .vault
            .seal(&id, &mut plain.as_slice())
            .await
            .unwrap();
        blobs.push((id, plain));
    }
    let before: Vec<Vec<u8>> =
        futures_util::future::join_all(blobs.iter().map(|(id, _)| raw_path(&services, id))).await;
    let new = MasterKey::generate();
    assert_eq!(services.vault.rewrap_all(&new).await.unwrap(), 4);
    // Documents were not re-encrypted: the stored bytes are unchanged.
    let after: Vec<Vec<u8>> =
        futures_util::future::join_all(blobs.iter().map(|(id, _)| raw_path(&services, id))).await;
    assert_eq!(before, after);

    // The old key no longer opens the installation; the new one opens every blob.
    assert!(matches!(
        Services::start(services.settings.clone()).await,
        Err(printpark::services::StartError::Vault(
            VaultError::MasterKeyMismatch(_)
        ))
    ));
    printpark::vault::write_key_file(&services.settings.master_key_path(), &new).unwrap();
    let reopened = Services::start(services.settings.clone()).await.unwrap();
    for (id, plain) in &blobs {
        assert_eq!(&read_all(&reopened, id).await.unwrap(), plain);
    }
}

async fn raw_path(services: &Services, id: &BlobId) -> Vec<u8> {
    raw(&services.vault.store().object_store(), id).await
}

#[tokio::test]
async fn an_interrupted_rotation_is_finished_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path(), None).await;
    let id = BlobId::random();
    services.vault.seal(&id, &mut &b"hello"[..]).await.unwrap();
    // The database was committed under the new key, but the process stopped before the
    // key file was renamed: the new key waits in `master.key.next`.
    let new = MasterKey::generate();
    let path = services.settings.master_key_path();
    printpark::vault::write_key_file(&printpark::vault::master::next_key_path(&path), &new)
        .unwrap();
    services.vault.rewrap_all(&new).await.unwrap();
    let reopened = Services::start(services.settings.clone()).await.unwrap();
    assert_eq!(reopened.vault.master_key_id(), new.id());
    assert_eq!(read_all(&reopened, &id).await.unwrap(), b"hello");
}

#[tokio::test]
async fn a_missing_key_file_for_existing_data_stops_start_instead_of_making_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path(), None).await;
    std::fs::remove_file(services.settings.master_key_path()).unwrap();
    let err = Services::start(services.settings.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("restore the key file"), "{err}");
}

#[tokio::test]
async fn a_password_derived_master_key_reopens_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = support::settings(dir.path(), &support::sqlite_url(dir.path()));
    settings.vault.master_password =
        Some(printpark::config::Secret::new("a long enough passphrase"));
    let first = Services::start(settings.clone()).await.unwrap();
    let id = BlobId::random();
    first.vault.seal(&id, &mut &b"derived"[..]).await.unwrap();
    assert!(
        !settings.master_key_path().exists(),
        "no key file is written for a password"
    );
    let again = Services::start(settings.clone()).await.unwrap();
    assert_eq!(read_all(&again, &id).await.unwrap(), b"derived");
    settings.vault.master_password = Some(printpark::config::Secret::new("another passphrase!"));
    assert!(Services::start(settings).await.is_err());
}

#[tokio::test]
async fn blobs_without_a_record_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path(), None).await;
    let kept = BlobId::random();
    services.vault.seal(&kept, &mut &b"kept"[..]).await.unwrap();
    let orphan = BlobId::random();
    let store = services.vault.store().object_store();
    put_raw(&store, &orphan, b"left by a crash".to_vec()).await;
    assert_eq!(services.vault.sweep_orphans(-10).await.unwrap(), 1);
    assert!(
        store
            .head(&ObjectPath::from(
                BlobStore::path_of(orphan.as_str()).as_ref()
            ))
            .await
            .is_err()
    );
    assert_eq!(read_all(&services, &kept).await.unwrap(), b"kept");
}

#[tokio::test]
async fn a_blob_sealed_but_never_indexed_is_purged_by_the_sweeper() {
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path(), None).await;
    let id = BlobId::random();
    services
        .vault
        .seal(&id, &mut &b"crash before the job row"[..])
        .await
        .unwrap();
    // An hour's grace protects intake in flight.
    assert_eq!(services.jobs.sweep_unindexed_blobs(3600).await.unwrap(), 0);
    assert_eq!(services.jobs.sweep_unindexed_blobs(-10).await.unwrap(), 1);
    assert!(services.db.sealed_blob_ids().await.unwrap().is_empty());
    assert!(
        services
            .vault
            .store()
            .object_store()
            .head(&BlobStore::path_of(id.as_str()))
            .await
            .is_err()
    );
    services.maintain().await;
}

#[tokio::test]
async fn a_failing_source_leaves_no_blob_and_no_record() {
    struct Failing(usize);
    impl tokio::io::AsyncRead for Failing {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.0 == 0 {
                return std::task::Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "client hung up",
                )));
            }
            let n = self.0.min(buf.remaining()).min(1000);
            buf.put_slice(&vec![7u8; n]);
            self.0 -= n;
            std::task::Poll::Ready(Ok(()))
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let services = services(dir.path(), None).await;
    let id = BlobId::random();
    let err = services
        .vault
        .seal(&id, &mut Failing(20_000))
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Source(_)), "{err:?}");
    assert!(services.db.sealed_blob_ids().await.unwrap().is_empty());
    assert!(
        services
            .vault
            .store()
            .object_store()
            .head(&BlobStore::path_of(id.as_str()))
            .await
            .is_err()
    );
}
