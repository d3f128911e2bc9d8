-- The last batched height (`MAX(to_height)`, read by the batcher on every poll and by the
-- status) from an index instead of a scan of every batch; `COUNT(*)` of batches also reads this
-- small index instead of the table with its commitments.
CREATE INDEX batches_to_height ON batches (to_height);
