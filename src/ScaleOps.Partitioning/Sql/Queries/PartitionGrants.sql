-- The table and column grants of a partitioned table $1 and of each of its partitions in its own schema, in one read
-- (GrantSync compares them). One row per grant, the owner's own entries left out (they come with the ownership); a
-- single row with NULL grant columns for a relation without any. Columns:
--   0 partition      NULL for the parent $1
--   1 bound          the partition bound as text (the caller's session is UTC, ISO); NULL for the parent
--   2 owner          the relation's owner
--   3 owner actable  whether the current role can act as the owner: it is the owner or a superuser, or the session
--                    user may SET ROLE to it
--   4 column         NULL for a grant on the table
--   5 privilege      SELECT, INSERT, ...
--   6 grantee        NULL for PUBLIC
--   7 grantor
--   8 grantable      WITH GRANT OPTION
--   9 actable        whether the session user may SET ROLE to the grantor, the grantor may use the schema (GRANT and
--                    REVOKE look the table up by name) and is no superuser (a superuser acts as the owner)
--  10 me             current_user, to come back to after SET ROLE
--  11 superuser      whether current_user is a superuser
WITH parent AS (
    SELECT c.oid, c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = to_regclass($1)
), rel AS (
    SELECT p.oid, NULL::text AS partition, NULL::text AS bound FROM parent p
    UNION ALL
    SELECT c.oid, c.relname::text, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
    FROM parent p
    JOIN pg_catalog.pg_inherits i ON i.inhparent = p.oid
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid AND c.relnamespace = p.relnamespace
), me AS (
    SELECT current_user::text AS name, r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
)
SELECT r.partition, r.bound, o.rolname::text,
       o.rolname = me.name OR me.rolsuper OR pg_catalog.pg_has_role(session_user, c.relowner, 'MEMBER'),
       g.attname, g.privilege_type, ge.rolname::text, gr.rolname::text, g.is_grantable,
       pg_catalog.pg_has_role(session_user, g.grantor, 'MEMBER')
           AND pg_catalog.has_schema_privilege(g.grantor, c.relnamespace, 'USAGE') AND NOT gr.rolsuper,
       me.name, me.rolsuper
FROM rel r
JOIN pg_catalog.pg_class c ON c.oid = r.oid
JOIN pg_catalog.pg_roles o ON o.oid = c.relowner
CROSS JOIN me
LEFT JOIN LATERAL (
    {{relation_grants:c}}
) g ON true
LEFT JOIN pg_catalog.pg_roles ge ON ge.oid = g.grantee
LEFT JOIN pg_catalog.pg_roles gr ON gr.oid = g.grantor
ORDER BY r.partition NULLS FIRST, g.attname NULLS FIRST, ge.rolname NULLS FIRST, g.privilege_type, gr.rolname
