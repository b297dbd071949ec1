-- Workstation agents are trusted only as far as an admin said (issue 14, finding 6).
--
-- The people an agent may park jobs for: 'people' = only those listed in
-- agent_people (none listed = nobody: an approved agent parks nothing until the admin
-- chooses), 'anyone' = any user of the site (the Agents page warns about it).
ALTER TABLE agents ADD COLUMN park_scope TEXT NOT NULL DEFAULT 'people';
-- Failover orders (another workstation's job, from its failover copy) go only to
-- agents the admin designated.
ALTER TABLE agents ADD COLUMN failover_deliverer BOOLEAN NOT NULL DEFAULT FALSE;
-- agents.site_key_id is from now on the id the admin confirmed (fixed at approval);
-- what the agent says on its heartbeats is kept apart, for the page, and never
-- replaces the confirmed one. Ids reported before this migration were never
-- confirmed: they become reports, to confirm on the Agents page.
ALTER TABLE agents ADD COLUMN site_key_reported TEXT NOT NULL DEFAULT '';
UPDATE agents SET site_key_reported = site_key_id, site_key_id = '';

CREATE TABLE agent_people (
    agent_id  BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, user_id)
);
