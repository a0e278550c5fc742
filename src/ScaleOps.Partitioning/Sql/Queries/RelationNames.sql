-- The names of the relations (tables, indexes, sequences, views...) and types of a schema that begin with a prefix:
-- a new partition, and its template indexes, must take none of them (CREATE fails with 42P07, or 42710 for a type),
-- such as a table that RetentionMode.Detach left under its partition's name. $1 = schema name; $2 = prefix.
SELECT c.relname::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND starts_with(c.relname::text, $2)
UNION
SELECT t.typname::text
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = $1 AND starts_with(t.typname::text, $2)
