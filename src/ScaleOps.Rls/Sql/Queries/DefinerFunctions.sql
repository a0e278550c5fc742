-- SECURITY DEFINER functions and procedures the connected role may call whose owner bypasses row-level security
-- (SUPERUSER or BYPASSRLS): whatever they read or change in a protected table, they read or change for every tenant,
-- whoever calls them (FORCE ROW LEVEL SECURITY binds a table's owner, not such a role). Members of extensions and the
-- system schemas are left out.
SELECT p.oid::regprocedure::text, o.rolname::text
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_roles o ON o.oid = p.proowner
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.prosecdef AND (o.rolsuper OR o.rolbypassrls)
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
  AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1
