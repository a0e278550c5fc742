-- A recurring schedule's row: its last due time and the definition stored by the most recently started host (NULL for
-- a row written before migration jobs/0005).
SELECT last_due_at, cron, time_zone, defined_at FROM {{schema}}.job_schedules WHERE name = @name
