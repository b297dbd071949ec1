//! Parked jobs: metadata only; the document is a sealed blob in the vault.

use super::{Db, DbResult, on_backend, touched};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub uuid: String,
    pub owner_id: i64,
    pub name: String,
    pub format: String,
    pub pages: Option<i64>,
    pub color: Option<bool>,
    pub color_mode: String,
    pub copies: i64,
    pub sides: String,
    pub size_bytes: i64,
    pub source: String,
    pub client_addr: String,
    pub state: String,
    pub blob_id: Option<String>,
    pub submitted_at: i64,
    pub expires_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub uuid: &'a str,
    pub owner_id: i64,
    pub name: &'a str,
    pub format: &'a str,
    pub pages: Option<i64>,
    pub color: Option<bool>,
    pub color_mode: &'a str,
    pub copies: i64,
    pub sides: &'a str,
    pub size_bytes: i64,
    pub source: &'a str,
    pub client_addr: &'a str,
    pub state: &'a str,
    pub blob_id: Option<&'a str>,
    pub submitted_at: i64,
    pub expires_at: i64,
}

/// A document handed to an incoming job.
#[derive(Debug, Clone)]
pub struct NewDocument<'a> {
    pub blob_id: &'a str,
    pub format: &'a str,
    pub pages: Option<i64>,
    pub color: Option<bool>,
    pub size_bytes: i64,
}

const JOB_COLUMNS: &str = "id, uuid, owner_id, name, format, pages, color, color_mode, copies, sides, size_bytes, source, client_addr, state, blob_id, submitted_at, expires_at, finished_at";

impl Db {
    pub async fn insert_job(&self, job: &NewJob<'_>) -> DbResult<JobRow> {
        let sql = format!(
            "INSERT INTO jobs (uuid, owner_id, name, format, pages, color, copies, sides, size_bytes, source, client_addr, state, blob_id, submitted_at, expires_at, color_mode) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING {JOB_COLUMNS}"
        );
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(job.uuid)
                .bind(job.owner_id)
                .bind(job.name)
                .bind(job.format)
                .bind(job.pages)
                .bind(job.color)
                .bind(job.copies)
                .bind(job.sides)
                .bind(job.size_bytes)
                .bind(job.source)
                .bind(job.client_addr)
                .bind(job.state)
                .bind(job.blob_id)
                .bind(job.submitted_at)
                .bind(job.expires_at)
                .bind(job.color_mode)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    pub async fn jobs_of_owner(&self, owner_id: i64, state: Option<&str>) -> DbResult<Vec<JobRow>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE owner_id = $1 AND ($2 IS NULL OR state = $2) ORDER BY submitted_at DESC, id DESC"
        );
        let rows = on_backend!(self, |pool| {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(owner_id)
                .bind(state)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    pub async fn job_by_id(&self, id: i64) -> DbResult<JobRow> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    /// Gives an incoming job its (only) document and makes it held.
    pub async fn attach_document(&self, id: i64, document: &NewDocument<'_>) -> DbResult<JobRow> {
        let sql = format!(
            "UPDATE jobs SET blob_id = $1, format = $2, pages = $3, color = $4, size_bytes = $5, state = 'held' \
             WHERE id = $6 AND state = 'incoming' AND blob_id IS NULL RETURNING {JOB_COLUMNS}"
        );
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(document.blob_id)
                .bind(document.format)
                .bind(document.pages)
                .bind(document.color)
                .bind(document.size_bytes)
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    pub async fn count_jobs_of_owner_in_state(&self, owner_id: i64, state: &str) -> DbResult<i64> {
        let n: i64 = on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE owner_id = $1 AND state = $2")
                .bind(owner_id)
                .bind(state)
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// Jobs whose hold ended before `at`, and incoming jobs (no document yet) created
    /// before `incoming_before`, oldest first.
    pub async fn jobs_due_for_expiry(
        &self,
        at: i64,
        incoming_before: i64,
        limit: i64,
    ) -> DbResult<Vec<JobRow>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (state IN ('held', 'incoming') AND expires_at <= $1) \
             OR (state = 'incoming' AND submitted_at <= $2) ORDER BY expires_at LIMIT $3"
        );
        let rows = on_backend!(self, |pool| {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(at)
                .bind(incoming_before)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// (jobs, pages) that expired unreleased: prints avoided.
    pub async fn abandoned_totals(&self) -> DbResult<(i64, i64)> {
        let row: (i64, Option<i64>) = on_backend!(self, |pool| {
            sqlx::query_as("SELECT COUNT(*), SUM(pages * copies) FROM jobs WHERE state = 'expired'")
                .fetch_one(pool)
                .await?
        });
        Ok((row.0, row.1.unwrap_or(0)))
    }

    pub async fn count_jobs_in_state(&self, state: &str) -> DbResult<i64> {
        let n: i64 = on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state = $1")
                .bind(state)
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// Moves a job to a final state and detaches its blob, keeping the metadata.
    pub async fn finish_job(&self, id: i64, state: &str, at: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE jobs SET state = $1, blob_id = NULL, finished_at = $2 WHERE id = $3",
            )
            .bind(state)
            .bind(at)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }
}
