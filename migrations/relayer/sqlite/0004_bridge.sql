-- The bridge: deposits watched on hostchains (attested on the symbiote until minted), releases
-- of the symbiote's withdrawal orders (scouted, approved or held, submitted, followed), and the
-- signed scout reports. Persisted states (deposits.state, releases.state) are documented in
-- relayer/src/store/bridge.rs. Amounts are decimal text (up to 2^128 - 1); times are
-- milliseconds since the Unix epoch. The other backend's migration defines the same tables.

-- Where each hostchain's deposit scan resumes (adapter-defined cursor), stored in the same
-- transaction as the deposits the scan returned.
CREATE TABLE deposit_cursors (
    hostchain TEXT PRIMARY KEY NOT NULL,
    cursor TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Deposits past their confirmation depth, once each.
CREATE TABLE deposits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hostchain TEXT NOT NULL,
    tx TEXT NOT NULL,
    event_index BIGINT NOT NULL,
    token TEXT NOT NULL,
    amount TEXT NOT NULL,
    recipient TEXT,
    raw_recipient TEXT NOT NULL,
    depositor TEXT NOT NULL,
    block BIGINT NOT NULL,
    state TEXT NOT NULL,
    attest_tx TEXT,
    seen_at BIGINT NOT NULL,
    state_since BIGINT NOT NULL,
    UNIQUE (hostchain, tx, event_index)
);
CREATE INDEX deposits_state ON deposits (hostchain, state);

-- Releases of withdrawal orders, by the order's nonce.
CREATE TABLE releases (
    nonce BIGINT PRIMARY KEY NOT NULL,
    hostchain TEXT NOT NULL,
    token TEXT NOT NULL,
    amount TEXT NOT NULL,
    destination TEXT NOT NULL,
    burner TEXT NOT NULL,
    order_height BIGINT NOT NULL,
    state TEXT NOT NULL,
    verdict TEXT,
    report_hash TEXT,
    release_after BIGINT,
    tx_id TEXT,
    last_error TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    ready_since BIGINT,
    released_at BIGINT,
    state_since BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX releases_state ON releases (hostchain, state);

-- Every transaction prepared for a release (the release, or the execution of a queued one),
-- stored before it is sent.
CREATE TABLE release_txs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    nonce BIGINT NOT NULL,
    tx_id TEXT NOT NULL,
    prepared TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (nonce, tx_id)
);

-- Signed scout reports, by the hash that approvals and holds on the symbiote name.
CREATE TABLE scout_reports (
    hash TEXT PRIMARY KEY NOT NULL,
    hostchain TEXT NOT NULL,
    address TEXT NOT NULL,
    block BIGINT NOT NULL,
    verdict TEXT NOT NULL,
    nonce BIGINT,
    report TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX scout_reports_nonce ON scout_reports (nonce);
