SELECT id, queue, kind, tenant_id, state, priority, attempt, max_attempts, run_at, created_at, attempted_at,
       finished_at, last_error, unique_key, concurrency_key, payload::text
FROM {{schema}}.jobs
WHERE id = @id
