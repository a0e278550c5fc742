-- The live columns of a table in physical order. $1 = qualified name.
SELECT a.attname::text
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
