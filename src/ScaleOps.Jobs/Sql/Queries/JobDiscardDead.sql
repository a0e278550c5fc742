-- Admin: deletes dead jobs (one, or all of a queue).
DELETE FROM {{schema}}.jobs j
WHERE j.state = 'dead' AND (@id::bigint IS NULL OR j.id = @id) AND (@queue::text IS NULL OR j.queue = @queue)
