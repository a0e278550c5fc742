-- Metrics: due jobs per queue (the jobs_pending index only).
SELECT queue, count(*) FROM {{schema}}.jobs WHERE state = 'pending' AND run_at <= greatest(@now, statement_timestamp()) GROUP BY queue
