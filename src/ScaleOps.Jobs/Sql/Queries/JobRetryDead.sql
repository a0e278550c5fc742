-- Admin: gives dead jobs (one, or all of a queue) a fresh set of attempts, due now, and wakes their queues.
WITH retried AS (
    UPDATE {{schema}}.jobs j
    SET state = 'pending', attempt = 0, run_at = @now, finished_at = NULL, lease_until = NULL
    WHERE j.state = 'dead' AND (@id::bigint IS NULL OR j.id = @id) AND (@queue::text IS NULL OR j.queue = @queue)
    RETURNING j.queue
)
SELECT count(*), (SELECT count(*) FROM (SELECT pg_notify('scaleops_jobs', q.queue) FROM (SELECT DISTINCT queue FROM retried) q) n)
FROM retried
