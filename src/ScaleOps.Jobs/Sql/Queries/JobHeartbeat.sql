-- Renews the leases of the jobs a worker is running. Not flushed: a lost renewal only risks running a job twice.
UPDATE {{schema}}.jobs j
SET lease_until = @lease_until
FROM unnest(@ids, @leases) AS h(id, lease_id),
     (SELECT set_config('synchronous_commit', 'off', true) AS v) cfg
WHERE {{lease_rows}} AND j.id = h.id AND j.lease_id = h.lease_id
