-- Sign-in limits and session ends (issue 14, findings 1, 2, 3 and 10).

-- Every session has an absolute end however much it is used: browsers
-- security.session_max_hours after sign-in, phones 90 days, stations 30 minutes.
-- Sessions open before this migration get those defaults counted from their start.
ALTER TABLE sessions ADD COLUMN absolute_expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET absolute_expires_at = CASE kind
    WHEN 'device' THEN created_at + 7776000
    WHEN 'station' THEN created_at + 1800
    ELSE created_at + 43200 END;
UPDATE sessions SET expires_at = absolute_expires_at WHERE expires_at > absolute_expires_at;

-- login_failures now holds one row per limit an attempt counts against (see
-- db/sign_in_limits.rs): "password:<account>", "pin:<account>", "address:<ip>",
-- "station:<guid>:<ip>" and "station:<guid>". An attempt is reserved (pending) before
-- its secret is checked, and failures + pending never pass the threshold, so
-- concurrent attempts cannot get more evaluated; last_attempt dates the reservations
-- (a crashed attempt's stop counting). Failures older than a counter's window
-- (last_failure) are forgotten. The old per-login rows are left to the stale sweep.
ALTER TABLE login_failures ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE login_failures ADD COLUMN last_attempt INTEGER NOT NULL DEFAULT 0;

-- Addresses that signed someone in at a printer: the station's own tablet (or the
-- device app) is not held back by the station-wide ceiling that strangers reach.
CREATE TABLE station_sign_ins (
    printer_guid TEXT    NOT NULL,
    client_addr  TEXT    NOT NULL,
    last_success INTEGER NOT NULL,
    PRIMARY KEY (printer_guid, client_addr)
);
