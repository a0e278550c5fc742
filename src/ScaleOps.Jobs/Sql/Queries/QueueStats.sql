-- Admin: counts per queue and state, and the age of the oldest due job. Reads the whole table: an ops page, not a hot path.
SELECT queue,
       count(*) FILTER (WHERE state = 'pending' AND run_at <= @now)   AS available,
       count(*) FILTER (WHERE state = 'pending' AND run_at > @now)    AS scheduled,
       count(*) FILTER (WHERE state = 'running')                       AS running,
       count(*) FILTER (WHERE state = 'succeeded')                     AS succeeded,
       count(*) FILTER (WHERE state = 'dead')                          AS dead,
       count(*) FILTER (WHERE state = 'cancelled')                     AS cancelled,
       min(run_at) FILTER (WHERE state = 'pending' AND run_at <= @now) AS oldest_due
FROM {{schema}}.jobs
GROUP BY queue
ORDER BY queue
