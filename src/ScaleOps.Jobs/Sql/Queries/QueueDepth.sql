-- Metrics: due jobs per queue (the jobs_pending index only).
SELECT queue, count(*) FROM {{schema}}.jobs WHERE state = 'pending' AND run_at <= @now GROUP BY queue
