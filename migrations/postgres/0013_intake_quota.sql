-- Storage quota (issue 14, finding 7): bytes and job places that a user's uploads still
-- in flight have reserved. A user's usage is the documents of their unfinished jobs plus
-- these rows; a reservation is taken by one conditional statement (under a per-user
-- lock on Postgres) before the bytes are stored, grows as they arrive, and is deleted
-- in the transaction that indexes the job (or when the upload fails). A row a crash
-- left behind stops counting once `updated_at` is an hour old, and is swept.
CREATE TABLE intake_reservations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    bytes       BIGINT NOT NULL DEFAULT 0,
    jobs        BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX intake_reservations_user ON intake_reservations(user_id, updated_at);
