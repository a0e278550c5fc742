-- Admin listing, newest first, keyset-paged by id.
{{jobInfoColumns}}
FROM {{schema}}.jobs
WHERE (@state::text IS NULL OR state = @state)
  AND (@queue::text IS NULL OR queue = @queue)
  AND (@tenant::text IS NULL OR tenant_id = @tenant)
  AND (@kind::text IS NULL OR kind = @kind)
  AND (@before::bigint IS NULL OR id < @before)
ORDER BY id DESC
LIMIT @limit
