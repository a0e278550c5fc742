-- The tenant context procedure, same signature and effect as 0001, with its body as one PL/pgSQL assignment instead
-- of a PERFORM: PL/pgSQL evaluates a simple expression directly, where PERFORM runs a query through SPI (executor
-- start and end on every CALL). Server execution time per CALL measured with pg_stat_statements on PostgreSQL 15
-- (docs/benchmarks.md, Rls, "The context procedure's body"): 13.9 µs before, 10.7 µs after (medians of 10 pairs).
-- The operator is schema-qualified like the functions, so no search_path decides what runs. textcat is strict, so all
-- three set_config calls run before it is called (none returns NULL: every value is coalesced to ''); the result is
-- discarded.
CREATE OR REPLACE PROCEDURE {{schema}}.rls_set_context(tenant_id text, user_id text, roles text[])
LANGUAGE plpgsql
AS $$
DECLARE
    ignored text;
BEGIN
    ignored := pg_catalog.set_config('app.tenant_id', coalesce(tenant_id, ''), true)
            OPERATOR(pg_catalog.||) pg_catalog.set_config('app.user_id', coalesce(user_id, ''), true)
            OPERATOR(pg_catalog.||) pg_catalog.set_config('app.roles', coalesce(roles::text, ''), true);
END
$$;
