-- A quiet host (its definition is not the stored one) takes a recurring schedule over: the row has not changed for
-- RecurringTakeoverAfter on this host's clock (a duration: hosts' clock offsets do not matter), so no host with the
-- stored definition fired, started or said it is alive meanwhile. Conditional on the row being exactly the one observed:
-- a sign of life, a start or another quiet host's takeover that committed first changes it, and this UPDATE (waiting on
-- the row lock, then re-checked) changes nothing; two quiet hosts never both take over. A definition written by a build
-- before jobs/0006 (definition_seen_at NULL or older than defined_at) is never taken over: it never says it is alive.
-- The new timetable starts at the host's now (last_due_at, never back); defined_at and definition_seen_at are the
-- database's clock, as every host writes them (ScheduleDefine.sql), so they compare whatever the hosts' clocks say.
UPDATE {{schema}}.job_schedules AS s
SET cron = @cron, time_zone = @time_zone, defined_at = db.now, definition_seen_at = db.now,
    last_due_at = GREATEST(s.last_due_at, @now)
FROM (SELECT clock_timestamp() AS now) db
WHERE s.name = @name
  AND s.last_due_at = @seen_last_due_at AND s.cron = @seen_cron AND s.time_zone = @seen_time_zone
  AND s.defined_at = @seen_defined_at AND s.definition_seen_at = @seen_at AND s.definition_seen_at >= s.defined_at
RETURNING s.last_due_at
