-- Local dispatch: the insert of a job meant to start on this host failed after it may have committed (the connection
-- broke, or the call was cancelled while the commit ran). If the row went in started, it is given back: pending, its
-- attempt not counted, so a worker runs it now instead of the rescuer after the lease expires (which would count the
-- attempt of a run that never happened, and kill a job on its last attempt unrun). The row is the one that insert wrote:
-- its random lease id (no other row has it), queue, kind and tenant, created and started at @now, still running under
-- that lease. The caller repeats this until the lease would expire: the commit may become visible only later.
-- Losing this commit only leaves the job to the rescuer, so it does not wait for the WAL flush.
WITH cfg AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS v),
released AS (
    UPDATE {{schema}}.jobs j
    SET state = 'pending', attempt = 0, attempted_at = NULL, lease_until = NULL
    FROM cfg
    WHERE j.queue = @queue AND j.kind = @kind AND j.tenant_id = @tenant AND j.state = 'running' AND j.lease_id = @lease_id
      AND j.created_at = @now AND j.attempted_at = @now
    RETURNING j.id
)
SELECT count(*), (SELECT count(*) FROM (SELECT pg_notify({{channel}}, @queue) WHERE EXISTS (SELECT 1 FROM released)) n)
FROM released
