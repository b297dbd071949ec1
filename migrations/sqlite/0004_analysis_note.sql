-- Why a job's pages or colour are unknown (never document content), for its owner.
ALTER TABLE jobs ADD COLUMN analysis_note TEXT;
