-- Registered accounts: a name kept for its owner (compared by its key: Unicode-
-- normalised, lower-cased) and an argon2id password hash; sessions are random tokens
-- stored only as their SHA-256, each with an expiry.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE account_sessions (
    token_hash TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX account_sessions_expiry ON account_sessions (expires_at);
