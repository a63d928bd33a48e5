-- The ledger as alsats wrote it before migrations were numbered (a SQLite ledger of that
-- time is taken as this version once its count columns are there).
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY, settings TEXT NOT NULL,
    created BIGINT NOT NULL, expires BIGINT NOT NULL, closed INTEGER NOT NULL DEFAULT 0,
    labels_held BIGINT NOT NULL DEFAULT 0);
CREATE TABLE credentials (
    token_id BYTEA PRIMARY KEY, payment_hash BYTEA UNIQUE NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (session_id),
    iterations BIGINT NOT NULL, amount_msat BIGINT NOT NULL,
    created BIGINT NOT NULL, valid_until BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= iterations));
CREATE INDEX credentials_by_session ON credentials (session_id);
CREATE INDEX credentials_unused ON credentials (created) WHERE used = 0;
CREATE INDEX sessions_by_created ON sessions (created);
CREATE TABLE charged_calls (
    token_id BYTEA NOT NULL, idempotency_key TEXT NOT NULL, charged_at BIGINT NOT NULL,
    credits BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (token_id, idempotency_key));
