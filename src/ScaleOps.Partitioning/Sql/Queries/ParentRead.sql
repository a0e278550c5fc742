-- The partition strategy, key column and its type of a table, or no row when it is not partitioned. $1 = qualified name.
SELECT pt.partstrat::text AS strategy,
       pt.partnatts::int AS key_count,
       a.attname::text AS key_column,
       format_type(a.atttypid, NULL) AS key_type
FROM pg_catalog.pg_partitioned_table pt
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
WHERE pt.partrelid = to_regclass($1)
