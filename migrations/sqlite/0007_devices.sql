-- SNMP discovery and monitoring (issue 6).

-- Devices found by SNMP discovery, what they report, and its history.
CREATE TABLE snmp_credentials (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    -- 1, 2c or 3
    version       TEXT    NOT NULL,
    -- v1/v2c: the community; v3: the user, protocols and keys. Secrets are sealed by
    -- the vault (AES-256-GCM under a key derived from the server's lookup secret).
    community     BLOB,
    v3_user       TEXT    NOT NULL DEFAULT '',
    auth_proto    TEXT    NOT NULL DEFAULT '',
    auth_key      BLOB,
    priv_proto    TEXT    NOT NULL DEFAULT '',
    priv_key      BLOB,
    context       TEXT    NOT NULL DEFAULT '',
    position      BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL
);

-- Ranges to scan (CIDR or start-end), or to never contact (exclude).
CREATE TABLE discovery_ranges (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    spec       TEXT    NOT NULL,
    exclude    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT  NOT NULL
);

-- One row: the schedule and limits of discovery and monitoring.
CREATE TABLE discovery_settings (
    id                  BIGINT  PRIMARY KEY CHECK (id = 1),
    -- off, daily or weekly
    schedule            TEXT    NOT NULL DEFAULT 'off',
    -- minutes after midnight UTC; weekday 0 = Monday
    at_minute           BIGINT  NOT NULL DEFAULT 120,
    weekday             BIGINT  NOT NULL DEFAULT 0,
    rate_pps            BIGINT  NOT NULL DEFAULT 200,
    timeout_ms          BIGINT  NOT NULL DEFAULT 800,
    retries             BIGINT  NOT NULL DEFAULT 1,
    port                BIGINT  NOT NULL DEFAULT 161,
    status_every_min    BIGINT  NOT NULL DEFAULT 15,
    last_scheduled_scan BIGINT
);
INSERT INTO discovery_settings (id) VALUES (1);

CREATE TABLE scans (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger_source  TEXT    NOT NULL,
    ranges          TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    total           BIGINT  NOT NULL,
    probed          BIGINT  NOT NULL DEFAULT 0,
    printers        BIGINT  NOT NULL DEFAULT 0,
    others          BIGINT  NOT NULL DEFAULT 0,
    packets         BIGINT  NOT NULL DEFAULT 0,
    cancel          BOOLEAN NOT NULL DEFAULT FALSE,
    error           TEXT    NOT NULL DEFAULT '',
    started_at      BIGINT  NOT NULL,
    -- written with the counters (every 250 ms): a running scan without a recent
    -- heartbeat belonged to a process that stopped
    heartbeat       BIGINT  NOT NULL,
    finished_at     BIGINT
);

CREATE TABLE devices (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ip             TEXT    NOT NULL,
    mac            TEXT,
    serial         TEXT,
    -- printer, or other (remembered so it is not asked again until the next full scan)
    kind           TEXT    NOT NULL,
    credential_id  BIGINT  REFERENCES snmp_credentials(id) ON DELETE SET NULL,
    manufacturer   TEXT    NOT NULL DEFAULT '',
    model          TEXT    NOT NULL DEFAULT '',
    description    TEXT    NOT NULL DEFAULT '',
    sys_name       TEXT    NOT NULL DEFAULT '',
    sys_object_id  TEXT    NOT NULL DEFAULT '',
    asset          TEXT    NOT NULL DEFAULT '',
    location       TEXT    NOT NULL DEFAULT '',
    contact        TEXT    NOT NULL DEFAULT '',
    firmware       TEXT    NOT NULL DEFAULT '',
    color          BOOLEAN,
    -- ok, warning, error, offline, unknown
    status         TEXT    NOT NULL DEFAULT 'unknown',
    error_state    TEXT    NOT NULL DEFAULT '',
    display        TEXT    NOT NULL DEFAULT '',
    alerts         TEXT    NOT NULL DEFAULT '',
    -- the release printer made from it
    printer_id     BIGINT  REFERENCES printers(id) ON DELETE SET NULL,
    first_seen     BIGINT  NOT NULL,
    last_seen      BIGINT  NOT NULL,
    last_polled    BIGINT,
    last_meter_at  BIGINT
);
CREATE INDEX devices_serial ON devices(serial);
CREATE INDEX devices_mac ON devices(mac);
CREATE INDEX devices_ip ON devices(ip);

-- Supplies as last read (one row per supply), and their history.
CREATE TABLE device_supplies (
    device_id    BIGINT  NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    idx          BIGINT  NOT NULL,
    description  TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    colorant     TEXT    NOT NULL DEFAULT '',
    unit         TEXT    NOT NULL DEFAULT '',
    max_capacity BIGINT,
    level        BIGINT,
    percent      BIGINT,
    PRIMARY KEY (device_id, idx)
);
CREATE TABLE supply_history (
    device_id BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    at        BIGINT NOT NULL,
    idx       BIGINT NOT NULL,
    percent   BIGINT
);
CREATE INDEX supply_history_device ON supply_history(device_id, at);
CREATE TABLE meter_reads (
    device_id BIGINT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    at        BIGINT NOT NULL,
    total     BIGINT,
    mono      BIGINT,
    color     BIGINT
);
CREATE INDEX meter_reads_device ON meter_reads(device_id, at);
