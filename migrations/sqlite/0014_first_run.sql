-- First run, once (issue 14, finding 9): the first-run page is open until this row's
-- `done_at` is set, and it is set exactly once, in the transaction that creates the
-- first admin (or as soon as any admin is seen). Deleting or disabling every admin
-- later never reopens it; `printpark admin create-user --admin` is the way back in.
CREATE TABLE first_run (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    done_at      INTEGER,
    -- wrong setup codes in the current window (a stranger's guesses are limited)
    wrong_codes  INTEGER NOT NULL DEFAULT 0,
    window_start INTEGER NOT NULL DEFAULT 0
);
-- A database that already has an admin is past its first run.
INSERT INTO first_run (id, done_at)
SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM users WHERE role = 'admin')
               THEN CAST(strftime('%s', 'now') AS INTEGER) END;

-- Setup codes printed by servers at start while the first run is open: only keyed
-- hashes. One per server data folder (replicas on one database each print their own);
-- all are deleted when the first run completes.
CREATE TABLE setup_codes (
    code_hash  BLOB    PRIMARY KEY,
    issued_at  INTEGER NOT NULL
);
