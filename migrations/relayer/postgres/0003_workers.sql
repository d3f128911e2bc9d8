-- Several relayer replicas on one database (ARCHITECTURE section 8, relayer/src/leader.rs).
-- Who is active is decided by PostgreSQL advisory locks, never by these tables: they only
-- record it for the API (`/v1/status`, `/v1/replicas`). Times are milliseconds since the Unix
-- epoch by the writing replica's clock. The SQLite migration next to this folder defines the
-- same tables.

-- The replica running each role (`follower`, `batcher`, `anchorer:<hostchain>`, ...): written
-- by the holder of the role's lock when it starts the stage and at every lease check, deleted
-- when it stops the stage.
CREATE TABLE workers (
    role TEXT PRIMARY KEY NOT NULL,
    replica TEXT NOT NULL,
    since BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL
);

-- Every running replica, active or standing by: written at every lease check, deleted when the
-- replica stops; rows of replicas that died are forgotten after an hour.
CREATE TABLE replicas (
    replica TEXT PRIMARY KEY NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL
);
