-- Issue 20: the public address people use (https://name:port), typed on the first-run
-- page or Admin -> Settings. One row at most; `server.public_url` in the settings wins
-- over it. `set_by` is the admin's username ('' on the first run before the admin exists).
CREATE TABLE public_address (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    url TEXT NOT NULL,
    set_at BIGINT NOT NULL,
    set_by TEXT NOT NULL
);
