-- bookrec schema v1: catalog, readers, interactions, splits and train-only features.
-- Portable SQL: runs unchanged on SQLite, PostgreSQL and MySQL/MariaDB.
-- Ids are assigned by bookrec (no autoincrement), so the three behave alike.

-- A work: what readers rate and what we recommend. item_idx is stable forever.
CREATE TABLE works (
    item_idx        INTEGER PRIMARY KEY,
    work_key        VARCHAR(255) NOT NULL UNIQUE,
    title           TEXT,
    author          TEXT,
    year            INTEGER,
    publisher       TEXT,
    pages           INTEGER,
    language        VARCHAR(16),
    image_url       TEXT,
    description     TEXT,
    main_subject_id INTEGER,
    has_title       SMALLINT NOT NULL DEFAULT 0,
    metadata_source VARCHAR(32),
    created_import  INTEGER NOT NULL
);

-- When new metadata merges two works, the dropped item_idx points at the kept one.
CREATE TABLE work_aliases (
    alias_idx INTEGER PRIMARY KEY,
    item_idx  INTEGER NOT NULL
);

-- An edition: one ISBN (stored as ISBN-13) of a work.
CREATE TABLE editions (
    isbn13     CHAR(13) PRIMARY KEY,
    isbn10     CHAR(10),
    item_idx   INTEGER NOT NULL,
    title      TEXT,
    author     TEXT,
    year       INTEGER,
    publisher  TEXT,
    image_url  TEXT,
    source     VARCHAR(32) NOT NULL,
    match_kind VARCHAR(16) NOT NULL
);
CREATE INDEX editions_item ON editions (item_idx);

-- Source ids of metadata records (goodbooks book ids, Open Library work keys) -> works.
CREATE TABLE work_external_ids (
    source      VARCHAR(32) NOT NULL,
    external_id VARCHAR(64) NOT NULL,
    item_idx    INTEGER NOT NULL,
    PRIMARY KEY (source, external_id)
);

CREATE TABLE subjects (
    subject_id INTEGER PRIMARY KEY,
    name       VARCHAR(128) NOT NULL UNIQUE,
    n_books    INTEGER NOT NULL,
    generic    SMALLINT NOT NULL DEFAULT 0
);

CREATE TABLE work_subjects (
    item_idx   INTEGER NOT NULL,
    subject_id INTEGER NOT NULL,
    weight     REAL NOT NULL,
    PRIMARY KEY (item_idx, subject_id)
);

-- Readers: imported ones keep (source, external_id); sign-ups come later.
CREATE TABLE users (
    user_id     INTEGER PRIMARY KEY,
    source      VARCHAR(32) NOT NULL,
    external_id VARCHAR(64) NOT NULL,
    location    TEXT,
    country     VARCHAR(64),
    age         INTEGER,
    age_group   VARCHAR(16),
    created_import INTEGER,
    UNIQUE (source, external_id)
);

-- Favorite subjects: chosen by a reader, or derived from train interactions.
CREATE TABLE user_fav_subjects (
    user_id    INTEGER NOT NULL,
    subject_id INTEGER NOT NULL,
    score      REAL NOT NULL,
    origin     VARCHAR(16) NOT NULL,
    split_id   VARCHAR(64),
    PRIMARY KEY (user_id, subject_id)
);

-- One interaction per (reader, work). rating 0 = implicit (read, not rated).
CREATE TABLE interactions (
    user_id  INTEGER NOT NULL,
    item_idx INTEGER NOT NULL,
    rating   SMALLINT NOT NULL,
    ts       BIGINT,
    source   VARCHAR(32) NOT NULL,
    PRIMARY KEY (user_id, item_idx)
);
CREATE INDEX interactions_item ON interactions (item_idx);

CREATE TABLE imports (
    import_id   INTEGER PRIMARY KEY,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    report      TEXT NOT NULL
);

-- A frozen evaluation split and its folds (0 train, 1 validation, 2 test, 3 cold).
CREATE TABLE splits (
    split_id   VARCHAR(64) PRIMARY KEY,
    seed       BIGINT NOT NULL,
    params     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    active     SMALLINT NOT NULL DEFAULT 0
);

CREATE TABLE split_folds (
    split_id VARCHAR(64) NOT NULL,
    user_id  INTEGER NOT NULL,
    item_idx INTEGER NOT NULL,
    fold     SMALLINT NOT NULL,
    PRIMARY KEY (split_id, user_id, item_idx)
);

-- Train-only aggregates of a split.
CREATE TABLE user_aggregates (
    split_id   VARCHAR(64) NOT NULL,
    user_id    INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    n_explicit INTEGER NOT NULL,
    mean       REAL,
    std        REAL,
    PRIMARY KEY (split_id, user_id)
);

CREATE TABLE work_aggregates (
    split_id   VARCHAR(64) NOT NULL,
    item_idx   INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    n_explicit INTEGER NOT NULL,
    mean       REAL,
    std        REAL,
    bayes      REAL,
    PRIMARY KEY (split_id, item_idx)
);

-- Raw subject tags as imported (before cleaning), so that the vocabulary can be
-- rebuilt from every source ever imported when a later import adds one.
CREATE TABLE work_raw_tags (
    item_idx INTEGER NOT NULL,
    source   VARCHAR(32) NOT NULL,
    tag      VARCHAR(255) NOT NULL,
    weight   REAL NOT NULL,
    PRIMARY KEY (item_idx, source, tag)
);
