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
    /// How many documents the job has (0 while a Create-Job waits for its first).
    pub documents: i64,
    /// When a client last sent a document (incoming jobs time out without activity).
    pub activity_at: Option<i64>,
    /// Why pages or colour are unknown, when they are.
    pub analysis_note: Option<String>,
    pub page_ranges: Option<String>,
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
    pub analysis_note: Option<&'a str>,
    pub page_ranges: Option<&'a str>,
}

/// A document handed to an incoming job.
#[derive(Debug, Clone)]
pub struct NewDocument<'a> {
    /// This document's number in its job, from 1.
    pub number: i64,
    /// The client said no document follows (`last-document`): the job becomes held.
    pub last: bool,
    pub blob_id: &'a str,
    pub format: &'a str,
    pub pages: Option<i64>,
    pub color: Option<bool>,
    pub size_bytes: i64,
    pub analysis_note: Option<&'a str>,
}

const JOB_COLUMNS: &str = "id, uuid, owner_id, name, format, pages, color, color_mode, copies, sides, size_bytes, source, client_addr, state, blob_id, submitted_at, expires_at, finished_at, documents, activity_at, analysis_note, page_ranges";

/// One document of a job, in order; `blob_id` is gone once the job ended.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentRow {
    pub number: i64,
    pub blob_id: Option<String>,
    pub format: String,
    pub pages: Option<i64>,
    pub color: Option<bool>,
    pub size_bytes: i64,
}

impl Db {
    pub async fn insert_job(&self, job: &NewJob<'_>) -> DbResult<JobRow> {
        self.insert_job_claiming(job, None).await
    }

    /// Inserts a job and, in the same transaction, deletes the intake reservation that
    /// held its place and bytes (so the user's usage never counts both or neither).
    pub async fn insert_job_claiming(
        &self,
        job: &NewJob<'_>,
        reservation: Option<i64>,
    ) -> DbResult<JobRow> {
        let sql = format!(
            "INSERT INTO jobs (uuid, owner_id, name, format, pages, color, copies, sides, size_bytes, source, client_addr, state, blob_id, submitted_at, expires_at, color_mode, documents, analysis_note, page_ranges) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING {JOB_COLUMNS}"
        );
        let row = on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, JobRow>(&sql)
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
                .bind(i64::from(job.blob_id.is_some()))
                .bind(job.analysis_note)
                .bind(job.page_ranges)
                .fetch_one(&mut *tx)
                .await?;
            if let Some(id) = reservation {
                sqlx::query("DELETE FROM intake_reservations WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            row
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

    /// Adds document `number` to an incoming job (the first goes to `jobs.blob_id`, the
    /// others to `job_documents`) and adds its pages, colour and size to the job's
    /// totals; the job becomes held with the last document. `NotFound` when the job is
    /// no longer incoming or another document took this number first.
    ///
    /// A job takes at most `max_documents`; the reservation `claim` that held the
    /// document's bytes is deleted in the same transaction.
    pub async fn attach_document(
        &self,
        id: i64,
        document: &NewDocument<'_>,
        at: i64,
        max_documents: i64,
        claim: Option<i64>,
    ) -> DbResult<JobRow> {
        let first = document.number == 1;
        let update = format!(
            "UPDATE jobs SET \
               blob_id = CASE WHEN $1 THEN $2 ELSE blob_id END, \
               format = CASE WHEN $1 THEN $3 ELSE format END, \
               pages = CASE WHEN $1 THEN $4 WHEN pages IS NULL OR $4 IS NULL THEN NULL ELSE pages + $4 END, \
               color = CASE WHEN $1 THEN $5 ELSE (color OR $5) END, \
               size_bytes = size_bytes + $6, documents = documents + 1, activity_at = $7, \
               state = CASE WHEN $8 THEN 'held' ELSE 'incoming' END, \
               analysis_note = COALESCE(analysis_note, $11) \
             WHERE id = $9 AND state = 'incoming' AND documents = $10 AND documents < $12 RETURNING {JOB_COLUMNS}"
        );
        let row = on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, JobRow>(&update)
                .bind(first)
                .bind(document.blob_id)
                .bind(document.format)
                .bind(document.pages)
                .bind(document.color)
                .bind(document.size_bytes)
                .bind(at)
                .bind(document.last)
                .bind(id)
                .bind(document.number - 1)
                .bind(document.analysis_note)
                .bind(max_documents)
                .fetch_one(&mut *tx)
                .await?;
            if let Some(claim) = claim {
                sqlx::query("DELETE FROM intake_reservations WHERE id = $1")
                    .bind(claim)
                    .execute(&mut *tx)
                    .await?;
            }
            if !first {
                sqlx::query(
                    "INSERT INTO job_documents (job_id, number, blob_id, format, pages, color, size_bytes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id)
                .bind(document.number)
                .bind(document.blob_id)
                .bind(document.format)
                .bind(document.pages)
                .bind(document.color)
                .bind(document.size_bytes)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            row
        });
        Ok(row)
    }

    /// An incoming job with at least one document gets no more: it becomes held.
    pub async fn close_incoming(&self, id: i64) -> DbResult<JobRow> {
        let sql = format!(
            "UPDATE jobs SET state = 'held' WHERE id = $1 AND state = 'incoming' AND documents > 0 \
             RETURNING {JOB_COLUMNS}"
        );
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, JobRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    /// Documents 2..n of a job, in order (document 1 is the job row's own).
    pub async fn further_documents(&self, job_id: i64) -> DbResult<Vec<DocumentRow>> {
        let rows = on_backend!(self, |pool| {
            sqlx::query_as::<_, DocumentRow>(
                "SELECT number, blob_id, format, pages, color, size_bytes FROM job_documents \
                 WHERE job_id = $1 ORDER BY number",
            )
            .bind(job_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
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

    /// Jobs whose hold ended before `at`, and incoming jobs that got nothing from their
    /// client since `incoming_before`, oldest first.
    pub async fn jobs_due_for_expiry(
        &self,
        at: i64,
        incoming_before: i64,
        limit: i64,
    ) -> DbResult<Vec<JobRow>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (state IN ('held', 'incoming', 'needs-attention') AND expires_at <= $1) \
             OR (state = 'incoming' AND COALESCE(activity_at, submitted_at) <= $2) ORDER BY expires_at LIMIT $3"
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

    /// Moves a job to a final state and detaches its blobs, keeping the metadata.
    pub async fn finish_job(&self, id: i64, state: &str, at: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE jobs SET state = $1, blob_id = NULL, finished_at = $2 WHERE id = $3",
            )
            .bind(state)
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("UPDATE job_documents SET blob_id = NULL WHERE job_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            done
        });
        touched(done)
    }
}
