-- OpenID Connect single sign-on (issue 16).

-- Providers an admin adds on the page (those in the settings file are not stored).
-- The client secret is sealed by the vault (purpose bound to the provider's name).
CREATE TABLE oidc_providers (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                   TEXT    NOT NULL UNIQUE,
    label                  TEXT    NOT NULL,
    issuer                 TEXT    NOT NULL,
    client_id              TEXT    NOT NULL,
    client_secret_sealed   BYTEA,
    ca_file                TEXT,
    match_claim            TEXT    NOT NULL CHECK (match_claim IN ('email', 'preferred_username')),
    create_users           BOOLEAN NOT NULL DEFAULT FALSE,
    groups_claim           TEXT    NOT NULL DEFAULT 'groups',
    -- One group per line.
    admin_groups           TEXT    NOT NULL DEFAULT '',
    -- e-mail domains that may sign in, space-separated; empty = any
    allowed_domains        TEXT    NOT NULL DEFAULT '',
    -- Space-separated, besides `openid`.
    scopes                 TEXT    NOT NULL DEFAULT 'email profile',
    trust_unverified_email BOOLEAN NOT NULL DEFAULT FALSE,
    created_at             BIGINT  NOT NULL,
    updated_at             BIGINT  NOT NULL
);

-- A sign-in on its way through the provider: found by the keyed hash of its `state`,
-- bound to the browser that started it (keyed hash of a cookie), its PKCE verifier,
-- nonce and destination sealed. `used_at` is set by the one statement that consumes
-- it, so a replayed callback finds it used; rows are swept a day after they expire.
CREATE TABLE oidc_pending_logins (
    state_hash   BYTEA   PRIMARY KEY,
    provider     TEXT    NOT NULL,
    browser_hash BYTEA   NOT NULL,
    sealed       BYTEA   NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    used_at      BIGINT
);
CREATE INDEX oidc_pending_logins_expires ON oidc_pending_logins (expires_at);

-- Who a provider's subject is here. `sub` is unique per issuer, so the issuer (not the
-- provider's short name) keys it; one account has at most one subject per issuer.
CREATE TABLE oidc_links (
    issuer        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    last_login_at BIGINT  NOT NULL,
    PRIMARY KEY (issuer, subject),
    UNIQUE (issuer, user_id)
);

-- Browser sessions opened by single sign-on; the ID token (sealed) is kept only as the
-- `id_token_hint` that ends the provider's session at sign-out.
CREATE TABLE oidc_sessions (
    token_hash      BYTEA   PRIMARY KEY REFERENCES sessions(token_hash) ON DELETE CASCADE,
    provider        TEXT    NOT NULL,
    id_token_sealed BYTEA
);
