-- Admin: counts per queue and state, and the age of the oldest due job. Reads the whole table: an ops page, not a hot path.
-- A job waits from when it is due, or from its enqueue when it was due before (a RunAt in the past, DateTimeOffset.MinValue
-- stored as -infinity): it never waited before it existed.
SELECT queue, available, scheduled, running, succeeded, dead, cancelled,
       -- Within DateTimeOffset's range (see JobFetch.sql): a job inserted in SQL with an infinite or BC created_at.
       CASE WHEN oldest_due < '0001-01-01 00:00:00+00' THEN '0001-01-01 00:00:00+00'::timestamptz
            WHEN oldest_due > '9999-12-31 23:59:59.999999+00' THEN '9999-12-31 23:59:59.999999+00'::timestamptz
            ELSE oldest_due END AS oldest_due
FROM (
    SELECT queue,
           count(*) FILTER (WHERE state = 'pending' AND run_at <= greatest(@now, statement_timestamp()))   AS available,
           count(*) FILTER (WHERE state = 'pending' AND run_at > greatest(@now, statement_timestamp()))    AS scheduled,
           count(*) FILTER (WHERE state = 'running')                       AS running,
           count(*) FILTER (WHERE state = 'succeeded')                     AS succeeded,
           count(*) FILTER (WHERE state = 'dead')                          AS dead,
           count(*) FILTER (WHERE state = 'cancelled')                     AS cancelled,
           min(greatest(run_at, created_at)) FILTER (WHERE state = 'pending' AND run_at <= greatest(@now, statement_timestamp())) AS oldest_due
    FROM {{schema}}.jobs
    GROUP BY queue
) s
ORDER BY queue
