-- Re-queues running jobs whose lease expired (their worker died or lost the database), or marks them dead when that
-- was their last attempt. Safe on every host at once (SKIP LOCKED); wakes the queues that got work back. One row per
-- (queue, kind) rescued, for the metrics' tags; no row when nothing was rescued. A running row without a lease (lease_until
-- NULL: the schema allows it, no worker writes it; a job inserted running in SQL) is given back too: it stayed running for
-- good, neither fetched nor retried or cancelled by the admin API.
-- Expiry is judged on the database's clock (read once per statement), the clock every lease is written on: the rescuing
-- host's estimate of the database's clock (@now, only for the rescued jobs' new run_at, the earlier of it and the database's) may be ahead of the worker's, or the worker's behind. A job
-- that dies here finished at that same reading of the database's clock, as every finished job's finished_at is.
WITH db AS MATERIALIZED (SELECT clock_timestamp() AS now),
stuck AS (
    SELECT j.id FROM {{schema}}.jobs j
    WHERE j.state = 'running' AND (j.lease_until < (SELECT db.now FROM db) OR j.lease_until IS NULL)
    ORDER BY j.id
    LIMIT @limit
    FOR UPDATE SKIP LOCKED
),
rescued AS (
    UPDATE {{schema}}.jobs j
    SET state = CASE WHEN j.attempt >= j.max_attempts THEN 'dead' ELSE 'pending' END,
        run_at = least(@now, (SELECT db.now FROM db)),
        finished_at = CASE WHEN j.attempt >= j.max_attempts THEN (SELECT db.now FROM db) END,
        lease_until = NULL,
        last_error = CASE WHEN j.lease_until IS NULL
                          THEN 'Attempt ' || j.attempt || ' was running without a lease (lease_until was NULL: not written by a worker).'
                          ELSE 'Attempt ' || j.attempt || ' was abandoned: its worker stopped renewing the lease (crashed, killed or cut off '
                               || 'from the database); the lease expired at ' || j.lease_until || '.' END
    FROM stuck s
    WHERE j.id = s.id
    RETURNING j.queue, j.kind, j.state
),
wake AS (
    SELECT count(*) AS n FROM (SELECT pg_notify({{channel}}, q.queue)
                               FROM (SELECT DISTINCT queue FROM rescued WHERE state = 'pending') q) n
)
SELECT r.queue, r.kind, count(*) FILTER (WHERE r.state = 'pending'), count(*) FILTER (WHERE r.state = 'dead')
FROM rescued r CROSS JOIN wake
GROUP BY r.queue, r.kind
