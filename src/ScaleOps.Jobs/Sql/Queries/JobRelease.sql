-- Gives back jobs that a stopping worker did not finish: pending again at once (due at the earlier of the host's and the
-- database's clock, so no host waits for a clock ahead), the attempt not counted. lease_id stays:
-- the next fetch moves it on, so this lease can never be used again.
WITH released AS (
    UPDATE {{schema}}.jobs j
    SET state = 'pending', attempt = j.attempt - 1, run_at = least(@now, statement_timestamp()), lease_until = NULL
    FROM unnest(@ids, @leases) AS r(id, lease_id)
    WHERE {{lease_rows}} AND j.id = r.id AND j.lease_id = r.lease_id
    RETURNING j.queue
)
SELECT count(*), (SELECT count(*) FROM (SELECT pg_notify({{channel}}, q.queue) FROM (SELECT DISTINCT queue FROM released) q) n)
FROM released
