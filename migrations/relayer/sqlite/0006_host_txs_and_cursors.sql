-- One table for every hostchain transaction any stage prepared (anchors, releases, payments of
-- queued releases, relayer-set rotations), stored before it is sent: `hostchain`, `purpose` and
-- `subject` name its owner (relayer/src/store/host_txs.rs). The anchors' and releases' transactions move
-- here. Relayer-set rotations are stored before they are sent, in `rotations`. The withdrawal
-- cursors move out of `deposit_cursors` into their own table. The other backend's migration
-- does the same.

CREATE TABLE host_txs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hostchain TEXT NOT NULL,
    purpose TEXT NOT NULL,
    subject TEXT NOT NULL,
    tx_id TEXT NOT NULL,
    prepared TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (hostchain, purpose, subject, tx_id)
);

INSERT INTO host_txs (hostchain, purpose, subject, tx_id, prepared, created_at)
SELECT a.hostchain, 'anchor', CAST(t.anchor_id AS TEXT), t.tx_id, t.prepared, t.created_at
FROM anchor_txs t JOIN anchors a ON a.id = t.anchor_id ORDER BY t.id;

-- A release's transactions: the release itself, except the payment of a bridge-queued release
-- that is being executed (its newest transaction, named by the release).
INSERT INTO host_txs (hostchain, purpose, subject, tx_id, prepared, created_at)
SELECT r.hostchain,
       CASE WHEN r.state = 'executing' AND r.tx_id = t.tx_id THEN 'execute_queued' ELSE 'release' END,
       CAST(t.nonce AS TEXT), t.tx_id, t.prepared, t.created_at
FROM release_txs t JOIN releases r ON r.nonce = t.nonce ORDER BY t.id;

DROP TABLE anchor_txs;
DROP TABLE release_txs;

CREATE TABLE withdrawal_cursors (
    hostchain TEXT PRIMARY KEY NOT NULL,
    next_nonce BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

INSERT INTO withdrawal_cursors (hostchain, next_nonce, updated_at)
SELECT substr(hostchain, 13), CAST(cursor AS BIGINT), updated_at
FROM deposit_cursors WHERE hostchain LIKE 'withdrawals:%';

DELETE FROM deposit_cursors WHERE hostchain LIKE 'withdrawals:%';

CREATE TABLE rotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hostchain TEXT NOT NULL,
    contract TEXT NOT NULL,
    nonce BIGINT NOT NULL,
    members TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    state TEXT NOT NULL,
    tx_id TEXT NOT NULL,
    state_since BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (hostchain, contract, nonce)
);
