-- Completes a batch of successful jobs, kept for the succeeded-job retention. A completion counts only if the row is
-- still running the same attempt: a late completion from a worker whose lease expired changes nothing.
UPDATE {{schema}}.jobs j
SET state = 'succeeded', finished_at = @now, lease_until = NULL
FROM unnest(@ids, @attempts) AS d(id, attempt)
WHERE j.id = d.id AND j.attempt = d.attempt AND j.state = 'running'
