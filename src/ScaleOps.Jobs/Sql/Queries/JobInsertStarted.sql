-- One job from a host that can run it at once (local dispatch): when nothing due waits in the queue, the row goes in
-- already started, leased to the enqueuing host (attempt 1, lease_id @lease_id) until the database's clock plus @lease
-- (read once, as a fetch leases it), and that host runs it without a NOTIFY and a fetch. When due jobs wait, they come
-- first: the row goes in pending and wakes the workers, exactly as JobInsert.
-- @lease_id is random, drawn by the caller from [2^32, 2^62): it names this insert's lease alone, so that JobUnstart.sql
-- can find this row and no other (a fetch moves it on by one, as for any lease, and nothing moves it back).
-- The caller has reserved a free slot, and the job has no concurrency key and its queue no tenant cap (those are
-- decided under the fetch's advisory lock). A duplicate of a pending or running job with the same unique key inserts
-- nothing. The commit waits for the WAL flush like every enqueue: the job exists once the call returns.
-- "Nothing due waits" is decided on at most 32 pending rows of the queue (an index-only read of jobs_pending): a queue
-- with 32 or more pending jobs, due or not, takes the pending path, so the check costs the same with a million delayed
-- jobs (a filter on run_at over all of them would read every one).
-- The slot stays reserved while this statement runs, so it waits for no lock longer than 100 ms (lock_timeout, for this
-- transaction only): an equal unique key inserted by a transaction still open, a table lock. The caller then inserts
-- the job the ordinary way, without the slot.
WITH cfg AS MATERIALIZED (SELECT set_config('lock_timeout', '100ms', true) AS v),
idle AS MATERIALIZED (
    SELECT (SELECT c.v FROM cfg c) IS NOT NULL AND count(*) < 32 AND coalesce(bool_and(w.run_at > greatest(@now, statement_timestamp())), true) AS start
    FROM (SELECT j.run_at FROM {{schema}}.jobs j WHERE j.queue = @queue AND j.state = 'pending' LIMIT 32) w
),
ins AS (
    INSERT INTO {{schema}}.jobs (queue, kind, tenant_id, payload, priority, run_at, max_attempts, timeout_ms, unique_key,
                                 concurrency_key, concurrency_limit, created_at, state, attempt, lease_id, attempted_at, lease_until)
    SELECT @queue, @kind, @tenant, @payload, @priority, CASE WHEN @run_now THEN least(@run_at, statement_timestamp()) ELSE @run_at END, @max_attempts, @timeout_ms, @unique_key,
           @concurrency_key, @concurrency_limit, @now, CASE WHEN i.start THEN 'running' ELSE 'pending' END, i.start::int,
           CASE WHEN i.start THEN @lease_id ELSE 0 END,
           CASE WHEN i.start THEN @now END, CASE WHEN i.start THEN (SELECT clock_timestamp() + @lease) END
    FROM idle i
    ON CONFLICT (kind, tenant_id, unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'running') DO NOTHING
    RETURNING id, state = 'running' AS started, lease_id
),
wake AS (SELECT count(*) AS n FROM (SELECT pg_notify({{channel}}, @queue) FROM idle i WHERE NOT i.start) x)
SELECT ins.id, ins.started, ins.lease_id FROM ins CROSS JOIN wake
