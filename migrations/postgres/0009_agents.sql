-- On-site agents (issue 7): `printpark agent` enrols with a one-time code, an admin
-- approves it, and it then serves the printers assigned to it as their IPP INFRA
-- output device, keeping only outbound HTTPS to the server.

CREATE TABLE agents (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL,
    -- HTTP Basic login of the agent's control channel; the secret is stored only as a
    -- keyed hash
    login         TEXT    NOT NULL UNIQUE,
    secret_hash   BYTEA   NOT NULL,
    -- pending (enrolled, waiting for an admin) | active | revoked
    state         TEXT    NOT NULL DEFAULT 'pending',
    hostname      TEXT    NOT NULL DEFAULT '',
    version       TEXT    NOT NULL DEFAULT '',
    -- what the agent last reported about itself (JSON)
    health        TEXT    NOT NULL DEFAULT '',
    last_seen_at  BIGINT,
    approved_at   BIGINT,
    revoked_at    BIGINT,
    created_at    BIGINT  NOT NULL
);

-- One-time enrolment codes: only a keyed hash is kept; a code works once, until it expires.
CREATE TABLE agent_enrolment_codes (
    code_hash   BYTEA   PRIMARY KEY,
    created_by  BIGINT,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT  NOT NULL
);

-- A printer assigned to an agent has one output device row that belongs to the agent.
ALTER TABLE output_devices ADD COLUMN agent_id BIGINT REFERENCES agents(id) ON DELETE SET NULL;
CREATE INDEX output_devices_agent ON output_devices(agent_id) WHERE agent_id IS NOT NULL;
