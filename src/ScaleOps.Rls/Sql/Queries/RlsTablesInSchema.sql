-- Tables of schema $1 with row-level security enabled (their views are checked for leaks).
SELECT c.oid::regclass::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relrowsecurity
