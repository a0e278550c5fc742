-- Completes a batch of successful jobs, kept for the succeeded-job retention. A completion counts only if the row is
-- still running the same lease: a late completion from a worker whose lease expired changes nothing.
-- The state test sits inside the CASE on purpose, here and in the other completion statements: a bare
-- "j.state = 'running'" lets the planner estimate from statistics how many jobs run (often taken while none did) and
-- reach them through jobs_running, and a generic plan built on "one running job" scanned every running job once per id
-- (seconds for a batch of 2,000). This way the plan depends only on the batch's and the table's sizes: a lookup by
-- primary key per id (what a prepared statement's generic plan does), or one hashed pass over the table.
UPDATE {{schema}}.jobs j
SET state = 'succeeded', finished_at = @now, lease_until = NULL
FROM unnest(@ids, @leases) AS d(id, lease_id)
WHERE j.id = d.id AND j.lease_id = CASE WHEN j.state = 'running' THEN d.lease_id END
