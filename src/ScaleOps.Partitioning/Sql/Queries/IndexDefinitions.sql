-- The indexes of a table: name, definition, whether it is valid, and the constraint it backs (p, u or null). $1 = qualified name.
SELECT c.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid), i.indisvalid,
       (SELECT k.contype::text FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u')),
       (SELECT k.conname::text FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u'))
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = to_regclass($1)
ORDER BY c.relname
