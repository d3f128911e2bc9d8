-- Scout reports are carried in the next batch's aggregate (next to the commitments), so that
-- the evidence of every verdict is anchored: the batch that carries a report.
ALTER TABLE scout_reports ADD COLUMN batch_id BIGINT;
CREATE INDEX scout_reports_batch ON scout_reports (batch_id);
