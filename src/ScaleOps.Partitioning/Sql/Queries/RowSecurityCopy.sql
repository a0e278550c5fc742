-- The statements that give a relation its parent's row-level security, in order: ENABLE and FORCE ROW LEVEL SECURITY
-- where the parent has them (step 1 and 2), then a copy of each of the parent's policies (step 3). A parent's policies
-- apply only to statements on the parent: a partition queried by its own name is checked against its own, so without
-- this copy it would show every tenant's rows. Names come out of the catalog quoted (regclass output, quote_ident,
-- format %I).
-- Each copy on a partition is marked with the comment $4 (step 4), which is how the per-run sync (RowSecuritySync) tells
-- its copies, dropped when the parent's policy is, from the policies made on a partition by hand.
-- $1 the parent (the settings' source), $2 the relation that gets them (regclass text), $3 true to give them to every
-- partition of $2 as well (the conversion's twin and the partitions made for it ahead of the swap), $4 the marker, $5
-- true when $2 itself is a partition (to be) whose copies are marked too.
-- Columns: the statement, its step.
WITH target AS (
    SELECT $2::regclass AS rel, 0 AS ord
    UNION ALL
    SELECT i.inhrelid::regclass, 1 FROM pg_catalog.pg_inherits i WHERE $3 AND i.inhparent = $2::regclass
)
SELECT sql, step FROM (
    SELECT t.ord, t.rel::text AS target, 1 AS step, '' AS name, format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.rel) AS sql
    FROM pg_catalog.pg_class, target t WHERE oid = $1::regclass AND relrowsecurity
    UNION ALL
    SELECT t.ord, t.rel::text, 2, '', format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t.rel)
    FROM pg_catalog.pg_class, target t WHERE oid = $1::regclass AND relforcerowsecurity
    UNION ALL
    SELECT t.ord, t.rel::text, 3, p.polname::text, format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s',
        p.polname, t.rel,
        CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
        CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
        (SELECT string_agg(CASE WHEN r.role = 0 THEN 'PUBLIC' ELSE quote_ident(a.rolname) END, ', ' ORDER BY r.ord)
         FROM unnest(p.polroles) WITH ORDINALITY AS r (role, ord) LEFT JOIN pg_catalog.pg_roles a ON a.oid = r.role),
        ' USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')',
        ' WITH CHECK (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')')
    FROM pg_catalog.pg_policy p, target t
    WHERE p.polrelid = $1::regclass
    UNION ALL
    SELECT t.ord, t.rel::text, 4, p.polname::text, format('COMMENT ON POLICY %I ON %s IS %L', p.polname, t.rel, $4::text)
    FROM pg_catalog.pg_policy p, target t
    WHERE p.polrelid = $1::regclass AND (t.ord = 1 OR $5)
) s
ORDER BY ord, target, step, name
