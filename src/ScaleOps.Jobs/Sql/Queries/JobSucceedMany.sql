-- Completes a batch of successful jobs, kept for the succeeded-job retention. A completion counts only if the row is
-- still running the same lease: a late completion from a worker whose lease expired changes nothing. The rows it
-- completed come back, so that only those are counted (metrics) and the rejected ones are reported.
-- finished_at is the database's clock, read once per statement (an InitPlan), not per row: the retainer compares it
-- with its own reading of that clock (JobDeleteFinished.sql), never with a host's, which may be minutes off.
UPDATE {{schema}}.jobs j
SET state = 'succeeded', finished_at = (SELECT clock_timestamp()), lease_until = NULL
FROM unnest(@ids, @leases) AS d(id, lease_id)
WHERE {{lease_rows}} AND j.id = d.id AND j.lease_id = d.lease_id
RETURNING j.id, j.lease_id
