-- One job. A duplicate of a pending or running job with the same (kind, tenant, unique key) inserts nothing.
-- A job due now wakes idle workers: NOTIFY is delivered when the transaction commits (never for a rollback).
-- A job to run now (@run_now) is due at the earlier of the host's estimate of the database's clock (@now, DatabaseClock;
-- 0 offset before its first measurement) and the database's: a host whose clock runs
-- ahead does not make it wait. A job is due when either the host's or the database's clock has reached its run_at.
WITH ins AS (
    INSERT INTO {{schema}}.jobs (queue, kind, tenant_id, payload, priority, run_at, max_attempts, timeout_ms,
                                 unique_key, concurrency_key, concurrency_limit, created_at)
    VALUES (@queue, @kind, @tenant, @payload, @priority, CASE WHEN @run_now THEN least(@run_at, statement_timestamp()) ELSE @run_at END, @max_attempts, @timeout_ms,
            @unique_key, @concurrency_key, @concurrency_limit, @now)
    ON CONFLICT (kind, tenant_id, unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'running') DO NOTHING
    RETURNING id
),
wake AS (SELECT count(*) AS n FROM (SELECT pg_notify({{channel}}, @queue) WHERE @run_at <= greatest(@now, statement_timestamp())) x)
SELECT ins.id FROM ins CROSS JOIN wake
