-- Admin: counts per queue and state, and the age of the oldest due job. Reads the whole table: an ops page, not a hot path.
-- A job waits from when it is due, or from its enqueue when it was due before (a RunAt in the past, DateTimeOffset.MinValue
-- stored as -infinity): it never waited before it existed.
SELECT queue,
       count(*) FILTER (WHERE state = 'pending' AND run_at <= @now)   AS available,
       count(*) FILTER (WHERE state = 'pending' AND run_at > @now)    AS scheduled,
       count(*) FILTER (WHERE state = 'running')                       AS running,
       count(*) FILTER (WHERE state = 'succeeded')                     AS succeeded,
       count(*) FILTER (WHERE state = 'dead')                          AS dead,
       count(*) FILTER (WHERE state = 'cancelled')                     AS cancelled,
       min(greatest(run_at, created_at)) FILTER (WHERE state = 'pending' AND run_at <= @now) AS oldest_due
FROM {{schema}}.jobs
GROUP BY queue
ORDER BY queue
