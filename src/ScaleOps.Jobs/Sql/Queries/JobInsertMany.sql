-- A batch of jobs that share their options, in one statement: the payloads (and unique keys) travel as arrays.
-- Batches without unique keys take the binary COPY path instead (JobStore.JobCopyManyAsync).
-- Due times as in JobInsert.sql: a job to run now at the earlier of the host's estimate (@now) and the database's clock.
WITH ins AS (
    INSERT INTO {{schema}}.jobs (queue, kind, tenant_id, payload, priority, run_at, max_attempts, timeout_ms,
                                 unique_key, concurrency_key, concurrency_limit, created_at)
    SELECT @queue, @kind, @tenant, p.payload, @priority, CASE WHEN @run_now THEN least(@run_at, statement_timestamp()) ELSE @run_at END, @max_attempts, @timeout_ms,
           p.unique_key, @concurrency_key, @concurrency_limit, @now
    FROM unnest(@payloads, @unique_keys) AS p(payload, unique_key)
    ON CONFLICT (kind, tenant_id, unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'running') DO NOTHING
    RETURNING 1
),
wake AS (SELECT count(*) AS n FROM (SELECT pg_notify({{channel}}, @queue) WHERE @run_at <= greatest(@now, statement_timestamp())) x)
SELECT count(*) FROM ins CROSS JOIN wake
