-- Jobs that stay on a workstation (issue 7): the workstation agent seals the document
-- with the site key (which the server never holds) and keeps it; the server keeps
-- only the metadata, and on release tells that agent to deliver.
ALTER TABLE jobs ADD COLUMN held_by_agent BIGINT REFERENCES agents(id) ON DELETE SET NULL;
-- the agent's own name for the sealed document
ALTER TABLE jobs ADD COLUMN agent_ref TEXT;
CREATE INDEX jobs_held_by_agent ON jobs(held_by_agent) WHERE held_by_agent IS NOT NULL;

-- The failover copy (release.agent_failover_copy): the same sealed bytes, uploaded to
-- the server's store (sealed again by the vault), with the data key wrapped by the
-- site key (base64). Another agent of the site that holds the site key delivers it
-- when the workstation is away.
ALTER TABLE jobs ADD COLUMN failover_blob TEXT;
ALTER TABLE jobs ADD COLUMN failover_key TEXT;
-- Agents that run the workstation queue hold the site key: its public id (a one-way
-- fingerprint, as for the master key; '' = no site key). Failover goes only to an
-- agent with the same id, i.e. the same site password.
ALTER TABLE agents ADD COLUMN site_key_id TEXT NOT NULL DEFAULT '';
