-- Foundation: people, sessions, credentials, audit, sealed blobs, parked jobs.
-- Times are Unix seconds (INTEGER) so both backends share one Rust row type.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL DEFAULT '',
    department    TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
    password_hash TEXT,
    pin_hash      TEXT,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash   BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    client_addr  TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE app_passwords (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label        TEXT    NOT NULL,
    secret_hash  BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX app_passwords_user ON app_passwords(user_id);

CREATE TABLE login_failures (
    login        TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    last_failure INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor_id    INTEGER,
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
    value BLOB NOT NULL
);

CREATE TABLE sealed_blobs (
    blob_id     TEXT    PRIMARY KEY,
    wrapped_key BLOB    NOT NULL,
    kek_id      TEXT    NOT NULL,
    plain_size  INTEGER NOT NULL,
    sealed_size INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT    NOT NULL UNIQUE,
    owner_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    format       TEXT    NOT NULL,
    pages        INTEGER,
    color        BOOLEAN,
    copies       INTEGER NOT NULL DEFAULT 1,
    sides        TEXT    NOT NULL DEFAULT 'one-sided',
    size_bytes   INTEGER NOT NULL,
    source       TEXT    NOT NULL,
    client_addr  TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL,
    blob_id      TEXT    REFERENCES sealed_blobs(blob_id),
    submitted_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX jobs_owner_state ON jobs(owner_id, state);
CREATE INDEX jobs_expiry ON jobs(state, expires_at);
