-- The partitions of a table with their bounds (as text in the caller's UTC session), size and row estimate. $1 = qualified name.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS name,
       pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound,
       greatest(c.reltuples, 0)::bigint AS row_estimate,
       pg_catalog.pg_total_relation_size(c.oid) AS total_bytes
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = to_regclass($1)
ORDER BY c.relname
