-- Multi-document jobs (IPP Create-Job + several Send-Document). A job's first
-- document stays in jobs.blob_id (most jobs have exactly one); documents 2..n are
-- rows here. jobs.pages/size_bytes/color are the totals over all documents.
CREATE TABLE job_documents (
    job_id     BIGINT  NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    number     BIGINT  NOT NULL,
    blob_id    TEXT    UNIQUE REFERENCES sealed_blobs(blob_id),
    format     TEXT    NOT NULL,
    pages      BIGINT,
    color      BOOLEAN,
    size_bytes BIGINT  NOT NULL,
    PRIMARY KEY (job_id, number)
);
-- How many documents the job has, and when a client last sent one (an incoming job
-- is aborted after multiple-operation-time-out without activity).
ALTER TABLE jobs ADD COLUMN documents BIGINT NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN activity_at BIGINT;
UPDATE jobs SET documents = 0 WHERE blob_id IS NULL AND state = 'incoming';
