-- Completes a batch of successful jobs by deleting them (succeeded-job retention of zero), guarded like JobSucceedMany.
DELETE FROM {{schema}}.jobs j
USING unnest(@ids, @leases) AS d(id, lease_id)
WHERE {{lease_rows}} AND j.id = d.id AND j.lease_id = d.lease_id
RETURNING j.id, j.lease_id
