-- The partitions of a table $1 (qualified, quoted) with their bounds as text (the caller's session is UTC, ISO), for
-- PruningBounds.PartitionsAsync. Columns: 0 strategy and 1 key count of $1 (r and 1 for a range on one column),
-- 2 schema, 3 name, 4 bound of a partition (NULL in the single row of a table without partitions). No row when $1 is
-- not a partitioned table.
SELECT pt.partstrat::text, pt.partnatts::int, n.nspname::text, c.relname::text, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_partitioned_table pt
LEFT JOIN pg_catalog.pg_inherits i ON i.inhparent = pt.partrelid
LEFT JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE pt.partrelid = to_regclass($1)
