-- Reservations move from one process's memory into the ledger, so that several web
-- processes share it: a call holds its credits in a row that lives while its process
-- renews the lease (a process killed mid-call lets go within LEASE_SECONDS). A retry
-- with the same Idempotency-Key meets the first call's row (NULL keys never collide).
CREATE TABLE reservations (
    reservation_id TEXT PRIMARY KEY,
    token_id BYTEA NOT NULL REFERENCES credentials (token_id) ON DELETE CASCADE,
    idempotency_key TEXT, credits BIGINT NOT NULL, holder TEXT NOT NULL,
    expires DOUBLE PRECISION NOT NULL);
CREATE UNIQUE INDEX reservations_by_key ON reservations (token_id, idempotency_key);
CREATE INDEX reservations_by_holder ON reservations (holder);
-- labels a session may teach again free after its learner was lost: shared by the web
-- processes that serve it, so the count is spent once
ALTER TABLE sessions ADD COLUMN relearn_free BIGINT NOT NULL DEFAULT 0;
