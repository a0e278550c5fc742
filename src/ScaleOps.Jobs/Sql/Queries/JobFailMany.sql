-- Records failed attempts: each job is either scheduled for a retry at retry_at or dead, with its last error. A dead
-- job's finished_at is the database's clock, read once per statement (an InitPlan), as JobSucceedMany.sql writes it.
UPDATE {{schema}}.jobs j
SET state = CASE WHEN f.dead THEN 'dead' ELSE 'pending' END,
    run_at = CASE WHEN f.dead THEN j.run_at ELSE f.retry_at END,
    finished_at = CASE WHEN f.dead THEN (SELECT clock_timestamp()) END,
    lease_until = NULL,
    last_error = f.error
FROM unnest(@ids, @leases, @errors, @retry_ats, @dead) AS f(id, lease_id, error, retry_at, dead)
WHERE {{lease_rows}} AND j.id = f.id AND j.lease_id = f.lease_id
RETURNING j.id, j.lease_id
