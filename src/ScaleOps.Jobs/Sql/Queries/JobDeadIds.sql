-- Admin, bulk discard: the dead jobs (all, or of a queue) when the call starts, by id. Read once, in one short
-- statement; JobDiscardDeadMany.sql then deletes them in batches, each its own transaction.
SELECT j.id
FROM {{schema}}.jobs j
WHERE j.state = 'dead' AND (@queue::text IS NULL OR j.queue = @queue)
ORDER BY j.id
