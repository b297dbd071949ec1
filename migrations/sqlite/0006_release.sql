-- Release at the printer: printers, releases (the orchestrator's state machine with
-- leases), badges and personal passcodes.

CREATE TABLE printers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    guid             TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL UNIQUE,
    location         TEXT    NOT NULL DEFAULT '',
    uri              TEXT    NOT NULL,
    -- auto (IPPS, then IPP, then raw when the URI is socket://), or one forced: ipps, ipp, raw
    protocol         TEXT    NOT NULL DEFAULT 'auto',
    -- cost per page in thousandths of the currency unit; NULL = not charged
    cost_mono_milli  BIGINT,
    cost_color_milli BIGINT,
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    -- what the printer said about itself at the last check (Get-Printer-Attributes)
    make_model       TEXT    NOT NULL DEFAULT '',
    formats          TEXT    NOT NULL DEFAULT '',
    uris_supported   TEXT    NOT NULL DEFAULT '',
    color_supported  BOOLEAN,
    duplex_supported BOOLEAN,
    media            TEXT    NOT NULL DEFAULT '',
    multi_document   BOOLEAN NOT NULL DEFAULT FALSE,
    state            TEXT    NOT NULL DEFAULT 'unknown',
    state_reasons    TEXT    NOT NULL DEFAULT '',
    state_message    TEXT    NOT NULL DEFAULT '',
    checked_at       BIGINT,
    -- SHA-256 of the printer's TLS certificate, pinned on first contact (hex)
    tls_pin          TEXT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

-- One row per (job, printer) a user released. States:
-- queued -> releasing (leased by a worker) -> sent -> printed | failed | needs-attention.
-- transmitting = bytes may have left for the printer under the current lease: a lease
-- that runs out then means the outcome is unknown (needs-attention, never a second copy).
CREATE TABLE releases (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id         BIGINT  NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    printer_id     BIGINT  NOT NULL REFERENCES printers(id),
    user_id        BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    via            TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    copies         BIGINT  NOT NULL,
    sides          TEXT    NOT NULL,
    color_mode     TEXT    NOT NULL,
    lease_owner    TEXT,
    lease_until    BIGINT,
    transmitting   BOOLEAN NOT NULL DEFAULT FALSE,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    not_before     BIGINT  NOT NULL DEFAULT 0,
    bytes_sent     BIGINT  NOT NULL DEFAULT 0,
    protocol       TEXT    NOT NULL DEFAULT '',
    printer_job_id BIGINT,
    reason         TEXT    NOT NULL DEFAULT '',
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    finished_at    BIGINT
);
-- A job has at most one release in flight.
CREATE UNIQUE INDEX releases_one_active ON releases(job_id)
    WHERE state IN ('queued', 'releasing', 'sent');
CREATE INDEX releases_state ON releases(state, not_before);
CREATE INDEX releases_user ON releases(user_id, created_at);

-- Badges: only a keyed hash (HMAC-SHA-256 with a server secret) of the number.
CREATE TABLE badges (
    badge_hash   BLOB  PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX badges_user ON badges(user_id);

-- A personal release passcode: keyed hash, so it can be looked up alone.
ALTER TABLE users ADD COLUMN passcode_hash BLOB;
CREATE UNIQUE INDEX users_passcode ON users(passcode_hash);
