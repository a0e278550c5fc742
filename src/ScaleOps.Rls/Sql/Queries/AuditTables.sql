-- Tables of schema $1 with a column named $2 that are not protected: RLS off, not forced, or no policy; whether each is
-- a partition (the start-up check names an undeclared partitioned table, not each of its partitions), and whether the
-- connected role may read or write it (the start-up check leaves out a table the application role cannot touch).
SELECT c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)::int,
       c.relispartition,
       pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE')
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
  AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid))
ORDER BY 1
