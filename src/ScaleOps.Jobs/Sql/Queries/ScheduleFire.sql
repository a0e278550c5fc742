-- Fires one due time of a recurring schedule: the job is inserted only by the host that moves last_due_at forward,
-- so however many hosts run the schedule, each due time yields one job. Only a host whose definition (cron and time
-- zone) is the stored one may move it (ScheduleDefine.sql writes it at start); a row without a definition (written
-- before migration jobs/0005) takes this host's. A host that claims nothing reads the row to learn why. A fire is a
-- sign that a host with the stored definition is alive (definition_seen_at, migration jobs/0006), written on the
-- database's clock like defined_at (ScheduleDefine.sql), never the host's: hosts' clocks may be minutes apart.
WITH claim AS (
    INSERT INTO {{schema}}.job_schedules AS s (name, last_due_at, cron, time_zone, defined_at, definition_seen_at)
    SELECT @name, @due, @cron, @time_zone, db.now, db.now FROM (SELECT clock_timestamp() AS now) db
    ON CONFLICT (name) DO UPDATE SET last_due_at = excluded.last_due_at, cron = excluded.cron, time_zone = excluded.time_zone,
                                     defined_at = COALESCE(s.defined_at, excluded.defined_at),
                                     definition_seen_at = excluded.definition_seen_at
    WHERE s.last_due_at < excluded.last_due_at
      AND (s.cron IS NULL OR (s.cron = excluded.cron AND s.time_zone = excluded.time_zone))
    RETURNING s.name
),
ins AS (
INSERT INTO {{schema}}.jobs (queue, kind, tenant_id, payload, priority, run_at, max_attempts, timeout_ms,
                             unique_key, concurrency_key, concurrency_limit, created_at)
SELECT @queue, @kind, @tenant, @payload, @priority, @due, @max_attempts, @timeout_ms,
       @unique_key, @concurrency_key, @concurrency_limit, @now
FROM claim
ON CONFLICT (kind, tenant_id, unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'running') DO NOTHING
RETURNING id
),
wake AS (SELECT count(*) AS n FROM (SELECT pg_notify({{channel}}, @queue)) x)
SELECT ins.id FROM ins CROSS JOIN wake
