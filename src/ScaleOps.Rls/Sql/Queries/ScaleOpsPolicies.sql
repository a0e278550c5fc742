-- The policies this package manages on one table (named scaleops_*), with the definition hash kept in their comment.
SELECT p.polname::text, coalesce(pg_catalog.obj_description(p.oid, 'pg_policy'), '')
FROM pg_catalog.pg_policy p
WHERE p.polrelid = $1::regclass AND p.polname LIKE 'scaleops\_%'
