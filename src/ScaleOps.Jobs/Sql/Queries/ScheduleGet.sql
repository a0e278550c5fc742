-- A recurring schedule's row: its last due time, the definition stored by the most recently started host (NULL for a
-- row written before migration jobs/0005) and when a host with that definition was last seen alive (NULL before
-- migration jobs/0006).
SELECT last_due_at, cron, time_zone, defined_at, definition_seen_at FROM {{schema}}.job_schedules WHERE name = @name
