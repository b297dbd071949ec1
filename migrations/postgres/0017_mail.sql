-- E-mail and "forgot password" (issue 16, item 4).

-- One row: the mail relay as the admin page sets it. Ignored while [smtp] is set in
-- the settings file or the environment (that wins). The password is sealed by the
-- vault (AES-256-GCM under a key derived from the server's lookup secret) and never
-- shown again; the CA is a PEM pasted by the admin (empty: the system's roots).
CREATE TABLE smtp_settings (
    id           BIGINT  PRIMARY KEY CHECK (id = 1),
    host         TEXT    NOT NULL DEFAULT '',
    port         BIGINT  NOT NULL DEFAULT 587,
    security     TEXT    NOT NULL DEFAULT 'start_tls'
        CHECK (security IN ('start_tls', 'tls', 'insecure_plain')),
    username     TEXT    NOT NULL DEFAULT '',
    password     BYTEA,
    sender       TEXT    NOT NULL DEFAULT '',
    ca_pem       TEXT    NOT NULL DEFAULT '',
    timeout_secs BIGINT  NOT NULL DEFAULT 10,
    updated_at   BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO smtp_settings (id) VALUES (1);

-- Password reset links: only the keyed hash of the token is stored. A link is used
-- once (used_at set by one conditional UPDATE) and only before expires_at.
CREATE TABLE password_reset_tokens (
    token_hash BYTEA   PRIMARY KEY,
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_reset_tokens_user ON password_reset_tokens (user_id);

-- How many reset mails were asked for per key ("address:<ip>", "account:<id>") in
-- the current window: one conditional upsert counts and refuses at once.
CREATE TABLE mail_request_counters (
    key          TEXT    PRIMARY KEY,
    window_start BIGINT  NOT NULL,
    count        BIGINT  NOT NULL
);
