-- Where a person comes from (issue 16): typed in here ('local'), synced from the
-- organisation's LDAP / Active Directory ('ldap'), or created at a first single sign-on
-- ('oidc'). A directory person signs in with the directory's password (a bind; nothing
-- is stored) and is disabled, never deleted, when they leave the directory.
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local'
    CHECK (source IN ('local', 'ldap', 'oidc'));
-- The directory's stable identifier (objectGUID / entryUUID) for 'ldap' people: a
-- renamed person stays one person.
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_source_external_id ON users (source, external_id);
-- An admin reset the password: the next sign-in must choose a new one first.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
