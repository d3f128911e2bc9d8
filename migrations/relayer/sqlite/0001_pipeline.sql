-- The relayer's store (SQLite). Every pipeline stage writes its output here before acting on
-- the outside world. The PostgreSQL migration next to this folder defines the same tables.
-- Persisted states (anchors.state, batches.state) are documented in relayer/src/store.rs.

-- Verified finalized blocks of the followed symbiote.
CREATE TABLE blocks (
    height BIGINT PRIMARY KEY NOT NULL,
    hash BLOB NOT NULL,
    finalized BLOB NOT NULL,
    received_at BIGINT NOT NULL
);

-- The follower's light-client state: the last verified header and the set that signs the next.
CREATE TABLE follower (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    header BLOB NOT NULL,
    validators BLOB NOT NULL
);

-- Batches: a commitment over a block range and the aggregate anchored for it.
CREATE TABLE batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    from_height BIGINT NOT NULL,
    to_height BIGINT NOT NULL,
    commitment BLOB NOT NULL,
    aggregate BLOB NOT NULL,
    aggregate_root BLOB NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Commitments of other symbiotes, included in the next aggregate.
CREATE TABLE foreign_commitments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash BLOB NOT NULL UNIQUE,
    symbiote TEXT NOT NULL,
    commitment BLOB NOT NULL,
    batch_id BIGINT,
    received_at BIGINT NOT NULL
);

-- One anchor per (batch, hostchain).
CREATE TABLE anchors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id BIGINT NOT NULL,
    hostchain TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    state TEXT NOT NULL,
    tx_id TEXT,
    inclusion TEXT,
    confirmations BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    state_since BIGINT NOT NULL,
    last_error TEXT,
    UNIQUE (batch_id, hostchain),
    UNIQUE (hostchain, sequence)
);
CREATE INDEX anchors_open ON anchors (hostchain, state);

-- Every transaction prepared for an anchor (the original and its replacements), stored before
-- it is sent: any of them may be the one that gets included.
CREATE TABLE anchor_txs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    anchor_id BIGINT NOT NULL,
    tx_id TEXT NOT NULL,
    prepared TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (anchor_id, tx_id)
);

-- Every state change of a batch or an anchor, with its time and reason.
CREATE TABLE transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX transitions_entity ON transitions (entity, entity_id);
