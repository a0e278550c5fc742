-- The columns of a JobInfo (JobGet.sql, JobList.sql), spliced in for {{jobInfoColumns}}. The timestamps within
-- DateTimeOffset's range (see JobFetch.sql): ±infinity or a date before year 1 or after 9999 is read as
-- DateTimeOffset.MinValue or MaxValue, whatever Npgsql's DisableDateTimeInfinityConversions switch says.
SELECT id, queue, kind, tenant_id, state, priority, attempt, max_attempts,
       CASE WHEN run_at < '0001-01-01 00:00:00+00' THEN '0001-01-01 00:00:00+00'::timestamptz
            WHEN run_at > '9999-12-31 23:59:59.999999+00' THEN '9999-12-31 23:59:59.999999+00'::timestamptz
            ELSE run_at END AS run_at,
       CASE WHEN created_at < '0001-01-01 00:00:00+00' THEN '0001-01-01 00:00:00+00'::timestamptz
            WHEN created_at > '9999-12-31 23:59:59.999999+00' THEN '9999-12-31 23:59:59.999999+00'::timestamptz
            ELSE created_at END AS created_at,
       CASE WHEN attempted_at < '0001-01-01 00:00:00+00' THEN '0001-01-01 00:00:00+00'::timestamptz
            WHEN attempted_at > '9999-12-31 23:59:59.999999+00' THEN '9999-12-31 23:59:59.999999+00'::timestamptz
            ELSE attempted_at END AS attempted_at,
       CASE WHEN finished_at < '0001-01-01 00:00:00+00' THEN '0001-01-01 00:00:00+00'::timestamptz
            WHEN finished_at > '9999-12-31 23:59:59.999999+00' THEN '9999-12-31 23:59:59.999999+00'::timestamptz
            ELSE finished_at END AS finished_at,
       last_error, unique_key, concurrency_key, payload::text
