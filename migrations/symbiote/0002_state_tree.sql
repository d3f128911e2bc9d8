-- The state as an authenticated tree (a Jellyfish Merkle tree, symbiote::state::tree): every
-- block writes only the tree nodes and entry values it changed, at a version equal to its
-- height, so that any entry of any finalized height can be proven. The state of the first
-- format (one encoded blob) is dropped: a node of that format cannot open this database and
-- must sync again.
DROP TABLE chain_state;

-- Tree nodes: `path` is the node's nibble path (borsh), `node` the jmt node (borsh). Nodes are
-- never overwritten: a changed node is a new row at the new version.
CREATE TABLE state_nodes (
    version INTEGER NOT NULL,
    path BLOB NOT NULL,
    node BLOB NOT NULL,
    PRIMARY KEY (version, path)
) WITHOUT ROWID;

-- The nodes each version replaced: the latest state is every node not listed here (what the
-- node loads into memory at start), and they are what a future pruning deletes.
CREATE TABLE state_stale (
    version INTEGER NOT NULL,
    path BLOB NOT NULL,
    stale_since INTEGER NOT NULL,
    PRIMARY KEY (version, path)
) WITHOUT ROWID;

-- Entry values by key hash and the version that wrote them; NULL: deleted at that version.
CREATE TABLE state_values (
    key_hash BLOB NOT NULL,
    version INTEGER NOT NULL,
    value BLOB,
    PRIMARY KEY (key_hash, version)
) WITHOUT ROWID;

-- The height of the latest state written (the tree's latest version), in the same database
-- transaction as its block.
CREATE TABLE state_height (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    height INTEGER NOT NULL
);
