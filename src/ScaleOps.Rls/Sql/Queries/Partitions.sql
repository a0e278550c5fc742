-- Every partition below one declared table (sub-partitions included), with its row security state and the permissive
-- policies ScaleOps does not manage on it; none for a plain
-- table. The parent's policies apply only to statements on the parent: a partition named directly uses its own.
-- $1 the declared table (regclass text).
SELECT n.nspname::text,
       c.relname::text,
       c.relrowsecurity,
       c.relforcerowsecurity,
       (SELECT count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)::int,
       -- Permissive policies this package does not manage: PostgreSQL ORs them with the tenant policy.
       (SELECT string_agg(p.polname::text, ', ' ORDER BY p.polname) FROM pg_catalog.pg_policy p
         WHERE p.polrelid = c.oid AND p.polpermissive AND p.polname NOT LIKE 'scaleops\_%'),
       -- Whether the connected role owns the partition (or is a member of its owner) and may TRUNCATE it.
       pg_catalog.pg_has_role(c.relowner, 'USAGE'),
       pg_catalog.has_table_privilege(c.oid, 'TRUNCATE')
FROM pg_catalog.pg_partition_tree($1::regclass) t
JOIN pg_catalog.pg_class c ON c.oid = t.relid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE t.level > 0
ORDER BY t.level, c.relname
