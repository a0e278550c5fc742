-- Completes a batch of successful jobs, kept for the succeeded-job retention. A completion counts only if the row is
-- still running the same lease: a late completion from a worker whose lease expired changes nothing. The rows it
-- completed come back, so that only those are counted (metrics) and the rejected ones are reported.
UPDATE {{schema}}.jobs j
SET state = 'succeeded', finished_at = @now, lease_until = NULL
FROM unnest(@ids, @leases) AS d(id, lease_id)
WHERE {{lease_rows}} AND j.id = d.id AND j.lease_id = d.lease_id
RETURNING j.id, j.lease_id
