-- The policies this package manages on one table (named scaleops_*), with their comment and a fingerprint of their
-- actual definition: command, permissive or restrictive, roles (oids; 0 is PUBLIC), and USING and WITH CHECK as the
-- server deparses them. The comment holds the hash of the CREATE POLICY statement and the fingerprint the policy had
-- when it was created: an ALTER POLICY by hand changes the fingerprint but keeps the comment.
SELECT p.polname::text,
       coalesce(pg_catalog.obj_description(p.oid, 'pg_policy'), ''),
       pg_catalog.md5(pg_catalog.concat_ws(E'\n',
           p.polcmd::text,
           p.polpermissive::text,
           (SELECT pg_catalog.string_agg(r::text, ',' ORDER BY r) FROM pg_catalog.unnest(p.polroles) r),
           coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '-'),
           coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '-')))
FROM pg_catalog.pg_policy p
WHERE p.polrelid = $1::regclass AND p.polname LIKE 'scaleops\_%'
ORDER BY p.polname
