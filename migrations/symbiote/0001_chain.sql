-- The symbiote node's chain store (SQLite). Blocks and state are stored in their canonical
-- binary encodings (symbiote::codec), so the node can verify what it reads back.

-- Finalized blocks with their quorum certificates, one per height.
CREATE TABLE blocks (
    height INTEGER PRIMARY KEY NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    finalized BLOB NOT NULL
);

-- Which block included a transaction.
CREATE TABLE transactions (
    hash BLOB PRIMARY KEY NOT NULL,
    height INTEGER NOT NULL REFERENCES blocks (height)
);

-- The state after the last stored block, written in the same database transaction as it.
CREATE TABLE chain_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    height INTEGER NOT NULL,
    encoded BLOB NOT NULL
);

-- This validator's votes. A validator signs at most one block per height, across restarts:
-- this table is written before a vote leaves the process.
CREATE TABLE votes (
    height INTEGER PRIMARY KEY NOT NULL,
    block_hash BLOB NOT NULL
);

-- This node's own proposals while it is the proposer, so that after a restart it proposes the
-- same block again instead of a conflicting one.
CREATE TABLE own_proposals (
    height INTEGER PRIMARY KEY NOT NULL,
    block BLOB NOT NULL
);
