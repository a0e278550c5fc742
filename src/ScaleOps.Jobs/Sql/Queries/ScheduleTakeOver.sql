-- A quiet host (its definition is not the stored one) takes a recurring schedule over: the row has not changed for
-- RecurringTakeoverAfter on this host's clock, so no host with the stored definition fired it, started with it or said it
-- is alive for it meanwhile. Conditional on the row being exactly the one the host observed: a winner's sign of life,
-- a starting host's definition or another quiet host's takeover that committed first changes the row, and then this
-- UPDATE (waiting on the row lock, then re-checked against the new row) changes nothing; so two quiet hosts never both
-- take over. A definition written by a build before migration jobs/0006 (definition_seen_at older than defined_at, or
-- NULL) is never taken over: such hosts do not record that they are alive.
-- Like a starting host's changed definition, the new timetable starts now: last_due_at moves to now (never back), so no
-- due time of either timetable before now fires.
UPDATE {{schema}}.job_schedules AS s
SET cron = @cron, time_zone = @time_zone, defined_at = @now, definition_seen_at = @now,
    last_due_at = GREATEST(s.last_due_at, @now)
WHERE s.name = @name
  AND s.last_due_at = @seen_last_due_at AND s.cron = @seen_cron AND s.time_zone = @seen_time_zone
  AND s.defined_at = @seen_defined_at AND s.definition_seen_at = @seen_at AND s.definition_seen_at >= s.defined_at
RETURNING s.last_due_at
