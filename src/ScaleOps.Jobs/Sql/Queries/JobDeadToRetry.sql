-- Admin, bulk retry: the dead jobs (all, or of a queue) when the call starts, by id, read once in one short statement;
-- JobRetryDeadMany.sql then retries them in batches, each its own transaction. Of several dead jobs with one unique
-- key only the newest may be retried (the second column); the others are skipped and stay dead, as when one statement
-- retried them all. Deciding it here, over the whole set, keeps it so across batches: decided per batch, an older job
-- whose newer twin was retried (and had finished) in an earlier batch would have been retried too.
SELECT j.id,
       j.unique_key IS NULL OR j.id = max(j.id) OVER (PARTITION BY j.kind, j.tenant_id, j.unique_key)
FROM {{schema}}.jobs j
WHERE j.state = 'dead' AND (@queue::text IS NULL OR j.queue = @queue)
ORDER BY j.id
