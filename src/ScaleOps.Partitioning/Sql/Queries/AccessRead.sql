-- What a relation $2 (a new partition, or the conversion's twin) is to get of the owner and grants of $1 (its parent,
-- or the old table). One row per grant: aclexplode of the table's ACL and of each column's, the owner's own entries
-- left out (they come with the ownership); a single row with NULL grant columns when there is none. Columns:
--   0 owner          $1's owner
--   1 target owner   $2's owner
--   2 owner givable  whether the current role may make $1's owner the owner of $2 (ALTER TABLE ... OWNER TO needs
--                    membership in the new owner, which must have CREATE on the schema, unless a superuser runs it)
--   3 me             current_user, to come back to after SET ROLE
--   4 column         NULL for a grant on the table
--   5 privilege      SELECT, INSERT, ...
--   6 grantee        NULL for PUBLIC
--   7 grantor
--   8 grantable      WITH GRANT OPTION
--   9 assumable      whether the grant can be made as its grantor: the grantor is $1's owner (made as the owner), or
--                    the session user may SET ROLE to it, it may use $2's schema (GRANT looks the table up by name),
--                    and it is no superuser (a superuser's GRANT is recorded as the owner's, not its own)
SELECT so.rolname::text, tow.rolname::text,
       (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)
           OR (pg_catalog.pg_has_role(current_user, s.relowner, 'MEMBER') AND pg_catalog.has_schema_privilege(s.relowner, t.relnamespace, 'CREATE')),
       current_user::text,
       g.attname, g.privilege_type, ge.rolname::text, gr.rolname::text, g.is_grantable,
       g.grantor = s.relowner OR (pg_catalog.pg_has_role(session_user, g.grantor, 'MEMBER')
           AND pg_catalog.has_schema_privilege(g.grantor, t.relnamespace, 'USAGE') AND NOT gr.rolsuper)
FROM pg_catalog.pg_class s
JOIN pg_catalog.pg_roles so ON so.oid = s.relowner
JOIN pg_catalog.pg_class t ON t.oid = to_regclass($2)
JOIN pg_catalog.pg_roles tow ON tow.oid = t.relowner
LEFT JOIN LATERAL (
    {{relation_grants:s}}
) g ON true
LEFT JOIN pg_catalog.pg_roles ge ON ge.oid = g.grantee
LEFT JOIN pg_catalog.pg_roles gr ON gr.oid = g.grantor
WHERE s.oid = to_regclass($1)
ORDER BY g.attname NULLS FIRST, ge.rolname NULLS FIRST, g.privilege_type, gr.rolname
