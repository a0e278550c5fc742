-- Admin listing, newest first, keyset-paged by id.
SELECT id, queue, kind, tenant_id, state, priority, attempt, max_attempts, run_at, created_at, attempted_at,
       finished_at, last_error, unique_key, concurrency_key, payload::text
FROM {{schema}}.jobs
WHERE (@state::text IS NULL OR state = @state)
  AND (@queue::text IS NULL OR queue = @queue)
  AND (@tenant::text IS NULL OR tenant_id = @tenant)
  AND (@kind::text IS NULL OR kind = @kind)
  AND (@before::bigint IS NULL OR id < @before)
ORDER BY id DESC
LIMIT @limit
