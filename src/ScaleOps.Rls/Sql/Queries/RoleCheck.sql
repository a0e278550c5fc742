-- The connected role's bypass attributes: a superuser or BYPASSRLS role ignores every policy, even with FORCE.
-- Also the tenant context procedure every tenant statement calls ($1: the ScaleOps schema): whether it exists in this
-- database, and whether the role may call it (USAGE on its schema, EXECUTE on it); without either, every tenant
-- statement fails.
-- Last, the context settings as this session started (a role's or database's default, the connection's options): the
-- context is set transaction-locally and falls back to them at every transaction's end, so they must be unset or ''
-- (or '{}', no roles, for app.roles).
SELECT current_user::text, r.rolsuper, r.rolbypassrls, pg_catalog.current_database()::text,
    p.oid IS NOT NULL,
    coalesce(pg_catalog.has_schema_privilege(p.pronamespace, 'USAGE') AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE'), false),
    pg_catalog.current_setting('app.tenant_id', true), pg_catalog.current_setting('app.user_id', true),
    nullif(pg_catalog.current_setting('app.roles', true), '{}')
FROM pg_catalog.pg_roles r
LEFT JOIN (pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace)
    ON n.nspname = $1 AND p.proname = 'rls_set_context' AND p.prokind = 'p'
    AND pg_catalog.oidvectortypes(p.proargtypes) = 'text, text, text[]'
WHERE r.rolname = current_user
