-- Admin: gives dead jobs (one, or all of a queue) a fresh set of attempts, due now, and wakes their queues. lease_id stays
-- (it only moves forward), so a run the rescuer gave up on cannot complete the next run.
-- A dead job whose unique key is live again (an equal job is pending or running) cannot be pending too. One job by id
-- (@id set) is tried anyway, so the statement fails on jobs_unique and the caller says why. In bulk such jobs are
-- skipped (they stay dead), and of several dead jobs with one key only the newest is retried; the second column
-- counts the skipped jobs.
WITH dead AS MATERIALIZED (
    SELECT j.id, j.kind, j.tenant_id, j.unique_key
    FROM {{schema}}.jobs j
    WHERE j.state = 'dead' AND (@id::bigint IS NULL OR j.id = @id) AND (@queue::text IS NULL OR j.queue = @queue)
),
eligible AS (
    SELECT d.id FROM dead d
    WHERE d.unique_key IS NULL OR @id::bigint IS NOT NULL
       OR (NOT EXISTS (SELECT 1 FROM {{schema}}.jobs l
                       WHERE l.kind = d.kind AND l.tenant_id = d.tenant_id AND l.unique_key = d.unique_key
                         AND l.state IN ('pending', 'running'))
           AND NOT EXISTS (SELECT 1 FROM dead o
                           WHERE o.kind = d.kind AND o.tenant_id = d.tenant_id AND o.unique_key = d.unique_key AND o.id > d.id))
),
retried AS (
    UPDATE {{schema}}.jobs j
    SET state = 'pending', attempt = 0, run_at = @now, finished_at = NULL, lease_until = NULL
    WHERE j.id = ANY (ARRAY(SELECT e.id FROM eligible e)) AND j.state = 'dead'
    RETURNING j.queue
)
SELECT count(*),
       (SELECT count(*) FROM dead) - count(*),
       (SELECT count(*) FROM (SELECT pg_notify({{channel}}, q.queue) FROM (SELECT DISTINCT queue FROM retried) q) n)
FROM retried
