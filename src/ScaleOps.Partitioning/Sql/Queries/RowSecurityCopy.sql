-- The statements that give a new partition its parent's row-level security, in order: ENABLE and FORCE ROW LEVEL
-- SECURITY where the parent has them, then a copy of each of the parent's policies. A parent's policies apply only to
-- statements on the parent: a partition queried by its own name is checked against its own, so without this copy it
-- would show every tenant's rows. Names come out of the catalog quoted (regclass output, quote_ident, format %I).
-- $1 the parent, $2 the new partition (regclass text).
SELECT sql FROM (
    SELECT 1 AS step, '' AS name, format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', $2::regclass) AS sql
    FROM pg_catalog.pg_class WHERE oid = $1::regclass AND relrowsecurity
    UNION ALL
    SELECT 2, '', format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', $2::regclass)
    FROM pg_catalog.pg_class WHERE oid = $1::regclass AND relforcerowsecurity
    UNION ALL
    SELECT 3, p.polname::text, format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s',
        p.polname, $2::regclass,
        CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
        CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
        (SELECT string_agg(CASE WHEN r.role = 0 THEN 'PUBLIC' ELSE quote_ident(a.rolname) END, ', ' ORDER BY r.ord)
         FROM unnest(p.polroles) WITH ORDINALITY AS r (role, ord) LEFT JOIN pg_catalog.pg_roles a ON a.oid = r.role),
        ' USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')',
        ' WITH CHECK (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')')
    FROM pg_catalog.pg_policy p
    WHERE p.polrelid = $1::regclass
) s
ORDER BY step, name
