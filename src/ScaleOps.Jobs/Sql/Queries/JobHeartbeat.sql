-- Renews the leases of the jobs a worker is running. Not flushed: a lost renewal only risks running a job twice.
UPDATE {{schema}}.jobs j
SET lease_until = @lease_until
FROM unnest(@ids, @attempts) AS h(id, attempt),
     (SELECT set_config('synchronous_commit', 'off', true) AS v) cfg
WHERE j.id = h.id AND j.attempt = h.attempt AND j.state = 'running'
