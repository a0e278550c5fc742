-- A host that fires a recurring schedule under the stored definition records that it is alive for it (CronScheduler,
-- every fifth of RecurringTakeoverAfter, at least once a minute). No row changed: the stored definition is another host's (or the row
-- is gone), and the host reads the row to learn which. On the database's clock, as defined_at is (ScheduleDefine.sql):
-- a quiet host compares the two, and a host's clock 10 minutes behind the definer's made its signs of life look older
-- than the definition, so a quiet host never took the schedule over once it was dead.
UPDATE {{schema}}.job_schedules
SET definition_seen_at = clock_timestamp()
WHERE name = @name AND cron = @cron AND time_zone = @time_zone
