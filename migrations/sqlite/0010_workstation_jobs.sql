-- Jobs that stay on a workstation (issue 7): the workstation agent seals the document
-- with the site key (which the server never holds) and keeps it; the server keeps
-- only the metadata, and on release tells that agent to deliver.
ALTER TABLE jobs ADD COLUMN held_by_agent BIGINT REFERENCES agents(id) ON DELETE SET NULL;
-- the agent's own name for the sealed document
ALTER TABLE jobs ADD COLUMN agent_ref TEXT;
CREATE INDEX jobs_held_by_agent ON jobs(held_by_agent) WHERE held_by_agent IS NOT NULL;
