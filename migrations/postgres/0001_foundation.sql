-- Foundation: people, sessions, credentials, audit, sealed blobs, parked jobs.
-- Times are Unix seconds (BIGINT) so both backends share one Rust row type.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL DEFAULT '',
    department    TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
    password_hash TEXT,
    pin_hash      TEXT,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash   BYTEA    PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    client_addr  TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE app_passwords (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label        TEXT    NOT NULL,
    secret_hash  BYTEA    NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX app_passwords_user ON app_passwords(user_id);

CREATE TABLE login_failures (
    login        TEXT    PRIMARY KEY,
    failures     BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    last_failure BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    BIGINT,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL,
    client_addr TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TABLE vault_meta (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE sealed_blobs (
    blob_id     TEXT    PRIMARY KEY,
    wrapped_key BYTEA    NOT NULL,
    kek_id      TEXT    NOT NULL,
    plain_size  BIGINT NOT NULL,
    sealed_size BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE jobs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid         TEXT    NOT NULL UNIQUE,
    owner_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    format       TEXT    NOT NULL,
    pages        BIGINT,
    color        BOOLEAN,
    copies       BIGINT NOT NULL DEFAULT 1,
    sides        TEXT    NOT NULL DEFAULT 'one-sided',
    size_bytes   BIGINT NOT NULL,
    source       TEXT    NOT NULL,
    client_addr  TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL,
    blob_id      TEXT    REFERENCES sealed_blobs(blob_id),
    submitted_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
CREATE INDEX jobs_owner_state ON jobs(owner_id, state);
CREATE INDEX jobs_expiry ON jobs(state, expires_at);
