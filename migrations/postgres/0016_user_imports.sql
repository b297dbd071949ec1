-- A CSV import of people (issue 16, accounts): the dry run's plan is kept here until
-- it is applied (once) or is an hour old, so "Import" applies exactly what was
-- previewed, re-checked. Card numbers are in the plan only as keyed hashes.
CREATE TABLE user_imports (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_by  BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL,
    file_name   TEXT    NOT NULL DEFAULT '',
    plan        TEXT    NOT NULL,
    applied_at  BIGINT
);
