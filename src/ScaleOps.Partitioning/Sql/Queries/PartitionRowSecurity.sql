-- The row-level security of a partitioned table $1 and of each of its partitions in its own schema, in one read
-- (RowSecuritySync compares them): one row per policy, a single row with NULL policy columns for a relation without
-- any. Columns:
--   0 partition   NULL for the parent $1
--   1 bound       the partition bound as text (the caller's session is UTC, ISO); NULL for the parent
--   2 enabled     ENABLE ROW LEVEL SECURITY
--   3 forced      FORCE ROW LEVEL SECURITY
--   4 owner       the relation's owner
--   5 actable     whether the current role may alter the relation: it is, or inherits from, its owner (or is a superuser)
--   6 policy      the policy's name, NULL when the relation has none
--   7 permissive  PERMISSIVE (true) or RESTRICTIVE
--   8 command     SELECT, INSERT, UPDATE, DELETE or ALL
--   9 roles       the roles it applies to, quoted (PUBLIC for everyone), sorted and joined with ', '
--  10 using       the USING expression (pg_get_expr), NULL when none
--  11 with check  the WITH CHECK expression, NULL when none
--  12 comment     the policy's comment (a copy made by maintenance carries RowSecuritySync.CopyMarker)
WITH parent AS (
    SELECT c.oid, c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = to_regclass($1)
), rel AS (
    SELECT p.oid, NULL::text AS partition, NULL::text AS bound FROM parent p
    UNION ALL
    SELECT c.oid, c.relname::text, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
    FROM parent p
    JOIN pg_catalog.pg_inherits i ON i.inhparent = p.oid
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid AND c.relnamespace = p.relnamespace
)
SELECT r.partition, r.bound, c.relrowsecurity, c.relforcerowsecurity, o.rolname::text,
       pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE'),
       p.polname::text, p.polpermissive,
       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
       (SELECT string_agg(x.name, ', ' ORDER BY x.name)
        FROM (SELECT CASE WHEN u.role = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(a.rolname) END AS name
              FROM unnest(p.polroles) AS u (role) LEFT JOIN pg_catalog.pg_roles a ON a.oid = u.role) x),
       pg_catalog.pg_get_expr(p.polqual, p.polrelid),
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
       pg_catalog.obj_description(p.oid, 'pg_policy')
FROM rel r
JOIN pg_catalog.pg_class c ON c.oid = r.oid
JOIN pg_catalog.pg_roles o ON o.oid = c.relowner
LEFT JOIN pg_catalog.pg_policy p ON p.polrelid = c.oid
ORDER BY r.partition NULLS FIRST, p.polname NULLS FIRST
