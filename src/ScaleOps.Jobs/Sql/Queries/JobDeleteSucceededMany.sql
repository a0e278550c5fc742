-- Completes a batch of successful jobs by deleting them (succeeded-job retention of zero), guarded like JobSucceedMany.
-- The state test is inside the CASE so that statistics on running jobs cannot steer the plan (see JobSucceedMany.sql).
DELETE FROM {{schema}}.jobs j
USING unnest(@ids, @leases) AS d(id, lease_id)
WHERE j.id = d.id AND j.lease_id = CASE WHEN j.state = 'running' THEN d.lease_id END
