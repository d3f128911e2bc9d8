-- The last batched height (`MAX(to_height)`, read by the batcher on every poll and by the
-- status) from an index instead of a scan of every batch. The SQLite migration next to this
-- folder adds the same index.
CREATE INDEX batches_to_height ON batches (to_height);
