-- bookrec schema v2: the gateway's accounts, sessions and events (include/bookrec/accounts.h).
-- Portable SQL, as 001: runs unchanged on SQLite, PostgreSQL and MySQL/MariaDB.

-- A reader deleted at their request keeps its row, so that its user_id is never reused;
-- deleted_at (unix seconds) marks it, and its interactions, favorites, folds and
-- aggregates are gone.
ALTER TABLE users ADD COLUMN deleted_at BIGINT;
-- Bumped on every change of the reader's ratings or chosen favorites (cache keys).
ALTER TABLE users ADD COLUMN state_rev BIGINT NOT NULL DEFAULT 0;

-- A login attached to one reader. account_id equals user_id (ids are never reused).
-- The *_lc columns are lower-cased copies that make uniqueness case-insensitive.
CREATE TABLE accounts (
    account_id    INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL UNIQUE,
    username      VARCHAR(32) NOT NULL,
    username_lc   VARCHAR(32) NOT NULL UNIQUE,
    email         VARCHAR(254) NOT NULL,
    email_lc      VARCHAR(254) NOT NULL UNIQUE,
    password_hash VARCHAR(256) NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Sessions hold a hash of the token only (the client keeps the token).
CREATE TABLE sessions (
    token_hash VARCHAR(128) PRIMARY KEY,
    account_id INTEGER NOT NULL,
    csrf       VARCHAR(128) NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Impressions and clicks, for click-through rates; kept 90 days by default (the server
-- purges older ones). account_id 0 = anonymous, or an account deleted since.
CREATE TABLE events (
    ts         BIGINT NOT NULL,
    account_id INTEGER NOT NULL,
    event_type VARCHAR(16) NOT NULL,
    surface    VARCHAR(16) NOT NULL,
    mode       VARCHAR(32) NOT NULL,
    item_idx   INTEGER NOT NULL,
    version    VARCHAR(64) NOT NULL
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_account ON events (account_id);
