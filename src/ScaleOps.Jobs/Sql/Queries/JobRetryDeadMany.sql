-- Admin, bulk retry: one batch (JobDeadToRetry.sql read the ids; at most one per unique key). Gives those of the batch's
-- jobs that are still dead a fresh set of attempts, due now, and wakes their queues. lease_id stays (it only moves
-- forward), so a run the rescuer gave up on cannot complete the next run. A dead job whose unique key is live again (an
-- equal job is pending or running) cannot be pending too: it is skipped and stays dead; the second column counts the
-- skipped jobs. Jobs no longer dead (retried or discarded meanwhile) are neither retried nor counted.
WITH dead AS MATERIALIZED (
    SELECT j.id, j.kind, j.tenant_id, j.unique_key
    FROM {{schema}}.jobs j
    WHERE j.id = ANY (@ids) AND j.state = 'dead'
),
eligible AS (
    SELECT d.id FROM dead d
    WHERE d.unique_key IS NULL
       OR NOT EXISTS (SELECT 1 FROM {{schema}}.jobs l
                      WHERE l.kind = d.kind AND l.tenant_id = d.tenant_id AND l.unique_key = d.unique_key
                        AND l.state IN ('pending', 'running'))
),
retried AS (
    UPDATE {{schema}}.jobs j
    SET state = 'pending', attempt = 0, run_at = least(@now, statement_timestamp()), finished_at = NULL, lease_until = NULL
    WHERE j.id = ANY (ARRAY(SELECT e.id FROM eligible e)) AND j.state = 'dead'
    RETURNING j.queue
)
SELECT count(*),
       (SELECT count(*) FROM dead) - count(*),
       (SELECT count(*) FROM (SELECT pg_notify({{channel}}, q.queue) FROM (SELECT DISTINCT queue FROM retried) q) n)
FROM retried
