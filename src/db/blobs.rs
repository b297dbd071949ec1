//! The vault's records: wrapped data keys of sealed blobs, and its own metadata
//! (key check value, salts, wrapped server secrets). Never plaintext, never a bare key.

use super::{Db, DbError, DbResult, on_backend};
use crate::clock::now;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedBlobRow {
    pub blob_id: String,
    pub wrapped_key: Vec<u8>,
    pub kek_id: String,
    pub plain_size: i64,
    pub sealed_size: i64,
    pub created_at: i64,
}

impl Db {
    pub async fn insert_sealed_blob(
        &self,
        blob_id: &str,
        wrapped_key: &[u8],
        kek_id: &str,
        plain_size: i64,
        sealed_size: i64,
    ) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO sealed_blobs (blob_id, wrapped_key, kek_id, plain_size, sealed_size, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(blob_id)
            .bind(wrapped_key)
            .bind(kek_id)
            .bind(plain_size)
            .bind(sealed_size)
            .bind(now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn sealed_blob(&self, blob_id: &str) -> DbResult<SealedBlobRow> {
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, SealedBlobRow>(
                "SELECT blob_id, wrapped_key, kek_id, plain_size, sealed_size, created_at FROM sealed_blobs WHERE blob_id = $1",
            )
            .bind(blob_id)
            .fetch_one(pool)
            .await?
        });
        Ok(row)
    }

    pub async fn delete_sealed_blob(&self, blob_id: &str) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("DELETE FROM sealed_blobs WHERE blob_id = $1")
                .bind(blob_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn sealed_blob_ids(&self) -> DbResult<Vec<String>> {
        let ids = on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT blob_id FROM sealed_blobs")
                .fetch_all(pool)
                .await?
        });
        Ok(ids)
    }

    pub async fn vault_meta(&self, name: &str) -> DbResult<Option<Vec<u8>>> {
        let value = on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM vault_meta WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(value)
    }

    pub async fn delete_vault_meta(&self, name: &str) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("DELETE FROM vault_meta WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Inserts a meta value unless one exists; returns the value that is stored now,
    /// so two processes starting together agree on one.
    pub async fn init_vault_meta(&self, name: &str, value: &[u8]) -> DbResult<Vec<u8>> {
        on_backend!(self, |pool| {
            sqlx::query("INSERT INTO vault_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(value)
                .execute(pool)
                .await?;
        });
        self.vault_meta(name).await?.ok_or(DbError::NotFound)
    }

    /// Replaces every wrapped key and the given meta values in one transaction:
    /// either all of them are under the new master key, or none.
    pub async fn rewrap_all(
        &self,
        keys: &[(String, Vec<u8>)],
        kek_id: &str,
        meta: &[(&str, Vec<u8>)],
    ) -> DbResult<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (blob_id, wrapped) in keys {
                sqlx::query(
                    "UPDATE sealed_blobs SET wrapped_key = $1, kek_id = $2 WHERE blob_id = $3",
                )
                .bind(wrapped)
                .bind(kek_id)
                .bind(blob_id)
                .execute(&mut *tx)
                .await?;
            }
            for (name, value) in meta {
                sqlx::query(
                    "INSERT INTO vault_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2",
                )
                .bind(*name)
                .bind(value)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every (blob id, wrapped key) pair, for key rotation.
    pub async fn all_wrapped_keys(&self) -> DbResult<Vec<(String, Vec<u8>)>> {
        let rows = on_backend!(self, |pool| {
            sqlx::query_as::<_, (String, Vec<u8>)>(
                "SELECT blob_id, wrapped_key FROM sealed_blobs ORDER BY blob_id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// (blob id, wrapped key) pairs not wrapped by the master key with this id.
    pub async fn wrapped_keys_not_under(&self, kek_id: &str) -> DbResult<Vec<(String, Vec<u8>)>> {
        let rows = on_backend!(self, |pool| {
            sqlx::query_as::<_, (String, Vec<u8>)>(
                "SELECT blob_id, wrapped_key FROM sealed_blobs WHERE kek_id <> $1 ORDER BY blob_id",
            )
            .bind(kek_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Sealed blobs that no job points at, made before `before` (a crash between
    /// sealing and indexing leaves these; so does a failover copy whose job ended).
    pub async fn unreferenced_sealed_blobs(&self, before: i64) -> DbResult<Vec<String>> {
        let ids = on_backend!(self, |pool| {
            sqlx::query_scalar(
                "SELECT b.blob_id FROM sealed_blobs b WHERE b.created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.blob_id = b.blob_id) \
                 AND NOT EXISTS (SELECT 1 FROM job_documents d WHERE d.blob_id = b.blob_id) \
                 AND NOT EXISTS (SELECT 1 FROM jobs f WHERE f.failover_blob = b.blob_id \
                     AND f.state IN ('incoming', 'held', 'releasing', 'needs-attention'))",
            )
            .bind(before)
            .fetch_all(pool)
            .await?
        });
        Ok(ids)
    }
}
