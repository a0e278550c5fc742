-- The foreign keys that reference a default partition ($1): each cloned from a constraint on the partitioned parent
-- (or declared on the default itself). Named by the constraint the user declared (the top of the conparentid chain),
-- with the referencing table, the ON DELETE action, whether the referencing table is the parent ($2) or the default
-- itself, and the column pairs (referencing, referenced) by name.
WITH RECURSIVE up (leaf, oid, parent) AS (
    SELECT c.oid, c.oid, c.conparentid FROM pg_catalog.pg_constraint c WHERE c.contype = 'f' AND c.confrelid = to_regclass($1)
    UNION ALL
    SELECT up.leaf, p.oid, p.conparentid FROM up JOIN pg_catalog.pg_constraint p ON p.oid = up.parent
)
SELECT r.conname::text,
       n.nspname::text,
       t.relname::text,
       c.confdeltype::text,
       c.conrelid IN (to_regclass($1), to_regclass($2)),
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k (num, i)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.i),
       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k (num, i)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num ORDER BY k.i)
FROM pg_catalog.pg_constraint c
JOIN up ON up.leaf = c.oid AND up.parent = 0
JOIN pg_catalog.pg_constraint r ON r.oid = up.oid
JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
WHERE c.contype = 'f' AND c.confrelid = to_regclass($1)
ORDER BY 2, 3, 1
