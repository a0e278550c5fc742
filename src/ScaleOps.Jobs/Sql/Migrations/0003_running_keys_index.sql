-- Running jobs that carry a concurrency key, by queue and key. Every fetch counts the running jobs per key
-- (JobFetch.sql, running_keys); through jobs_running it walked every running job of the queue, and the row versions of
-- the jobs that ran since the last vacuum (all of them while a hot standby's feedback or a long transaction holds the
-- cleanup horizon back): 0.4 ms and 131 buffers per fetch after 3,750 jobs, for no row. This index holds only the jobs
-- with a key, so a queue without keys reads nothing (docs/benchmarks.md, Jobs).
-- On a large existing table the build reads the whole table once and blocks writes to it meanwhile (migrations run in
-- one transaction, so not CONCURRENTLY); create it CONCURRENTLY beforehand under this name to avoid that.
CREATE INDEX IF NOT EXISTS jobs_running_keys ON {{schema}}.jobs (queue, concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;
