-- LDAP / Active Directory (issue 16, item 1): the page's settings, the sync runs with
-- their counters and skipped entries, the one-sync-at-a-time lease, and what the sync
-- knows of each directory person (their DN for the sign-in bind, their card's hash).

-- One row: the directory as set on the admin page (a `[ldap]` section in the settings
-- file wins over it). The bind password is sealed by the vault, never stored in clear.
CREATE TABLE ldap_settings (
    id                    BIGINT  PRIMARY KEY CHECK (id = 1),
    url                   TEXT    NOT NULL DEFAULT '',
    -- start_tls, ldaps or insecure_plain
    security              TEXT    NOT NULL DEFAULT 'start_tls',
    -- PEM of the CA (or the server certificate) to trust; empty = the system's roots
    ca_pem                TEXT    NOT NULL DEFAULT '',
    pinned_sha256         TEXT    NOT NULL DEFAULT '',
    bind_dn               TEXT    NOT NULL DEFAULT '',
    bind_password_sealed  BYTEA,
    base_dn               TEXT    NOT NULL DEFAULT '',
    user_filter           TEXT    NOT NULL DEFAULT '',
    -- active_directory or open_ldap
    preset                TEXT    NOT NULL DEFAULT 'active_directory',
    attr_username         TEXT    NOT NULL DEFAULT '',
    attr_email            TEXT    NOT NULL DEFAULT '',
    attr_name             TEXT    NOT NULL DEFAULT '',
    attr_department       TEXT    NOT NULL DEFAULT '',
    attr_card             TEXT    NOT NULL DEFAULT '',
    attr_unique_id        TEXT    NOT NULL DEFAULT '',
    -- group DNs, one a line
    user_groups           TEXT    NOT NULL DEFAULT '',
    admin_groups          TEXT    NOT NULL DEFAULT '',
    sync_interval_minutes BIGINT  NOT NULL DEFAULT 60,
    timeout_secs          BIGINT  NOT NULL DEFAULT 5,
    updated_at            BIGINT  NOT NULL DEFAULT 0
);

-- One row: who runs a sync now (lease), and when the last one started (schedule).
-- Claimed with one conditional UPDATE, so two servers never sync at once.
CREATE TABLE ldap_sync_lease (
    id              BIGINT PRIMARY KEY CHECK (id = 1),
    run_id          BIGINT,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    last_started_at BIGINT NOT NULL DEFAULT 0
);
INSERT INTO ldap_sync_lease (id) VALUES (1);

CREATE TABLE ldap_sync_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- schedule or admin
    trigger_source TEXT NOT NULL,
    started_at  BIGINT  NOT NULL,
    finished_at BIGINT,
    -- running, done or failed
    state       TEXT    NOT NULL DEFAULT 'running',
    -- entries read from the directory so far (progress)
    seen        BIGINT  NOT NULL DEFAULT 0,
    created     BIGINT  NOT NULL DEFAULT 0,
    updated     BIGINT  NOT NULL DEFAULT 0,
    disabled    BIGINT  NOT NULL DEFAULT 0,
    unchanged   BIGINT  NOT NULL DEFAULT 0,
    skipped     BIGINT  NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE ldap_sync_skipped (
    run_id BIGINT NOT NULL REFERENCES ldap_sync_runs(id) ON DELETE CASCADE,
    entry  TEXT   NOT NULL,
    reason TEXT   NOT NULL
);
CREATE INDEX ldap_sync_skipped_run ON ldap_sync_skipped(run_id);

-- What the last sync saw of a directory person: the DN the sign-in binds as, and the
-- keyed hash of the card number it linked in `badges` (to unlink it when it changes).
CREATE TABLE ldap_people (
    user_id   BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    dn        TEXT   NOT NULL,
    card_hash BYTEA,
    synced_at BIGINT NOT NULL
);
