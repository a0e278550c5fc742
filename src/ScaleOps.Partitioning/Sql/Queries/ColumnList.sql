-- The live columns of a table in physical order. $1 = qualified name; $2 = true for only the columns a row can be
-- written to (no GENERATED ... STORED column: INSERT and COPY refuse a value for one).
SELECT a.attname::text
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND (NOT $2 OR a.attgenerated = '')
ORDER BY a.attnum
