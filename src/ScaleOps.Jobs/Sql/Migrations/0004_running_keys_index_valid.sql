-- Migration 0003 creates jobs_running_keys IF NOT EXISTS, and its note advises building it CONCURRENTLY beforehand on a
-- large table. A CONCURRENTLY build that fails or is cancelled leaves an INVALID index under that name: 0003 then keeps
-- it, and PostgreSQL maintains it on every write but never reads it. Such an index is dropped and built again here.
-- The schema name stays out of the dollar-quoted block (it could contain the quote's tag): the table is found through
-- its row type in plain SQL, and handed to the block as a transaction-local setting holding its oid.
SELECT pg_catalog.set_config('scaleops.migration_jobs_table',
    (SELECT ty.typrelid FROM pg_catalog.pg_type ty WHERE ty.oid = pg_catalog.pg_typeof(NULL::{{schema}}.jobs))::text, true);
DO $$
DECLARE
    invalid regclass;
BEGIN
    SELECT ix.oid::regclass INTO invalid
    FROM pg_catalog.pg_class t
    JOIN pg_catalog.pg_class ix ON ix.relnamespace = t.relnamespace AND ix.relname = 'jobs_running_keys'
    JOIN pg_catalog.pg_index i ON i.indexrelid = ix.oid
    WHERE t.oid = pg_catalog.current_setting('scaleops.migration_jobs_table')::oid AND NOT (i.indisvalid AND i.indisready);
    IF invalid IS NOT NULL THEN
        EXECUTE pg_catalog.format('DROP INDEX %s', invalid);
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS jobs_running_keys ON {{schema}}.jobs (queue, concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;
