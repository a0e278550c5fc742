-- Admin: gives one dead job a fresh set of attempts, due now, and wakes its queue. lease_id stays (it only moves
-- forward), so a run the rescuer gave up on cannot complete the next run. A dead job whose unique key is live again (an
-- equal job is pending or running) is tried anyway, so the statement fails on jobs_unique and the caller says why.
-- (All dead jobs of a queue are retried in batches: JobDeadToRetry.sql, then JobRetryDeadMany.sql.)
WITH retried AS (
    UPDATE {{schema}}.jobs j
    SET state = 'pending', attempt = 0, run_at = least(@now, statement_timestamp()), finished_at = NULL, lease_until = NULL
    WHERE j.id = @id AND j.state = 'dead'
    RETURNING j.queue
)
SELECT count(*), 0::bigint, (SELECT count(*) FROM (SELECT pg_notify({{channel}}, r.queue) FROM retried r) n)
FROM retried
