-- A starting host writes its definition of a recurring schedule: the most recently started host's definition wins, and
-- hosts whose definition differs stop firing it (ScheduleFire.sql). Returns the last due time the host starts from.
-- - No row: the schedule starts now (due times after now fire).
-- - The same definition: the row is kept, so the due times missed while no host ran fire once (the latest).
-- - Another definition: its timetable starts now; last_due_at moves to now (never back), so the due times the old
--   timetable missed do not fire, and neither does a due time of the new one before now.
-- - No definition (a row written before migration jobs/0005): this one is adopted and the last due time kept.
-- In every case the starting host is seen alive for its definition now (definition_seen_at, migration jobs/0006).
-- "Now" is the host's estimate of the database's clock (@now, DatabaseClock) for last_due_at, where the new timetable starts (which due times are the schedule's,
-- as the host's cron arithmetic is), but the database's clock (clock_timestamp()) for defined_at and definition_seen_at:
-- a quiet host compares them (ScheduleTakeOver.sql), and hosts' clocks may be minutes apart.
INSERT INTO {{schema}}.job_schedules AS s (name, last_due_at, cron, time_zone, defined_at, definition_seen_at)
SELECT @name, @now, @cron, @time_zone, db.now, db.now FROM (SELECT clock_timestamp() AS now) db
ON CONFLICT (name) DO UPDATE SET
    last_due_at = CASE WHEN s.cron IS NULL OR (s.cron = excluded.cron AND s.time_zone = excluded.time_zone) THEN s.last_due_at
                       ELSE GREATEST(s.last_due_at, excluded.last_due_at) END,
    defined_at = CASE WHEN s.cron = excluded.cron AND s.time_zone = excluded.time_zone THEN s.defined_at
                      ELSE excluded.defined_at END,
    cron = excluded.cron,
    time_zone = excluded.time_zone,
    definition_seen_at = excluded.definition_seen_at
RETURNING s.last_due_at
