SELECT last_due_at FROM {{schema}}.job_schedules WHERE name = @name
