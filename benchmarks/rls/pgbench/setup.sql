-- Reference procedures for run.sh (the shipped scaleops.rls_set_context is installed by benchmarks/rls/run.sh):
-- rls/0001's body (a PERFORM) and an empty procedure, the floor of any CALL.
CREATE OR REPLACE PROCEDURE public.ctx_perform(tenant_id text, user_id text, roles text[])
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_catalog.set_config('app.tenant_id', coalesce(tenant_id, ''), true),
            pg_catalog.set_config('app.user_id', coalesce(user_id, ''), true),
            pg_catalog.set_config('app.roles', coalesce(roles::text, ''), true);
END
$$;
CREATE OR REPLACE PROCEDURE public.ctx_empty(tenant_id text, user_id text, roles text[]) LANGUAGE plpgsql AS $$BEGIN END$$;
GRANT EXECUTE ON PROCEDURE public.ctx_perform(text, text, text[]), public.ctx_empty(text, text, text[]) TO PUBLIC;
