-- Renews the leases of the jobs a worker is running. Not flushed: a lost renewal only risks running a job twice.
-- The leases it renewed come back: one it did not renew was lost (the job rescued or given back), and its run is
-- cancelled. The lease runs on the database's clock (read once per statement), as the fetch writes it and the rescuer
-- compares it: never on the host's, which may differ from the other hosts'.
UPDATE {{schema}}.jobs j
SET lease_until = (SELECT clock_timestamp() + @lease)
FROM unnest(@ids, @leases) AS h(id, lease_id),
     (SELECT set_config('synchronous_commit', 'off', true) AS v) cfg
WHERE {{lease_rows}} AND j.id = h.id AND j.lease_id = h.lease_id
RETURNING j.id, j.lease_id
