-- Printers that pull their jobs over HTTPS (IPP INFRA, PWG 5100.18): output devices,
-- their event subscriptions and the events (issue 5).

-- An output device (a cloud-ready printer or a proxy next to one) serves one printer.
-- It signs in with HTTP Basic: `login` and a secret stored only as a keyed hash.
CREATE TABLE output_devices (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    printer_id    BIGINT  NOT NULL REFERENCES printers(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    login         TEXT    NOT NULL UNIQUE,
    secret_hash   BLOB    NOT NULL,
    -- output-device-uuid it registered with (NULL until it registers)
    device_uuid   TEXT,
    -- what it last said about itself (Update-Output-Device-Attributes)
    make_model    TEXT    NOT NULL DEFAULT '',
    formats       TEXT    NOT NULL DEFAULT '',
    state         TEXT    NOT NULL DEFAULT 'unknown',
    state_reasons TEXT    NOT NULL DEFAULT '',
    state_message TEXT    NOT NULL DEFAULT '',
    attributes    TEXT    NOT NULL DEFAULT '',
    revoked_at    BIGINT,
    last_seen_at  BIGINT,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX output_devices_printer ON output_devices(printer_id);

-- ippget subscriptions (RFC 3996) of a device to its printer's events.
CREATE TABLE infra_subscriptions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   BIGINT  NOT NULL REFERENCES output_devices(id) ON DELETE CASCADE,
    printer_id  BIGINT  NOT NULL REFERENCES printers(id) ON DELETE CASCADE,
    events      TEXT    NOT NULL,
    -- the sequence number the next event of this subscription gets
    next_seq    BIGINT  NOT NULL DEFAULT 1,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX infra_subscriptions_printer ON infra_subscriptions(printer_id);

-- Events, one row per subscription, numbered 1, 2, 3… within it. A job-fetchable
-- event is written in the same transaction that makes the job fetchable, so none is
-- ever lost; the device asks with the next sequence number it wants.
CREATE TABLE infra_events (
    subscription_id BIGINT  NOT NULL REFERENCES infra_subscriptions(id) ON DELETE CASCADE,
    seq             BIGINT  NOT NULL,
    event           TEXT    NOT NULL,
    -- the release id: the job-id the device sees
    release_id      BIGINT,
    job_state       BIGINT,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (subscription_id, seq)
);
CREATE INDEX infra_events_created ON infra_events(created_at);

-- The device that fetched a release, and how far the document went.
ALTER TABLE releases ADD COLUMN device_id BIGINT REFERENCES output_devices(id) ON DELETE SET NULL;
CREATE INDEX releases_device ON releases(device_id) WHERE device_id IS NOT NULL;
