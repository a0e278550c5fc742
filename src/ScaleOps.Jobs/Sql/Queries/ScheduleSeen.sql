-- A host that fires a recurring schedule under the stored definition records that it is alive for it (CronScheduler,
-- every fifth of RecurringTakeoverAfter, at least once a minute). No row changed: the stored definition is another host's (or the row
-- is gone), and the host reads the row to learn which.
UPDATE {{schema}}.job_schedules
SET definition_seen_at = @now
WHERE name = @name AND cron = @cron AND time_zone = @time_zone
