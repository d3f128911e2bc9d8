-- The tables that record which relayer replica runs which role (ARCHITECTURE section 8,
-- relayer/src/leader.rs). With SQLite there is one process, which runs every role; the tables
-- exist so that the API (`/v1/status`, `/v1/replicas`) reads the same on both backends. Times
-- are milliseconds since the Unix epoch. The PostgreSQL migration next to this folder defines
-- the same tables.

-- The replica running each role (`follower`, `batcher`, `anchorer:<hostchain>`, ...): written
-- when the stage starts (and, on PostgreSQL, at every lease check), deleted when it stops.
CREATE TABLE workers (
    role TEXT PRIMARY KEY NOT NULL,
    replica TEXT NOT NULL,
    since BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL
);

-- Every running replica: written at every lease check, deleted when the replica stops; rows of
-- replicas that died are forgotten after an hour.
CREATE TABLE replicas (
    replica TEXT PRIMARY KEY NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL
);
