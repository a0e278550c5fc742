-- A job to run now, bulk-enqueued by binary COPY, leaves run_at out and takes the database's clock at the COPY
-- (statement_timestamp()): COPY cannot compute the earlier of the host's clock and the database's as the INSERT
-- statements do, and a host whose clock runs ahead must not make such jobs wait for the other hosts. Every other
-- insert names run_at, as builds before this migration do. Setting a default rewrites nothing.
ALTER TABLE {{schema}}.jobs
    ALTER COLUMN run_at SET DEFAULT statement_timestamp();
