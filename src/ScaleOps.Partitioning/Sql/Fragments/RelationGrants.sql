-- The table and column grants on one relation (a pg_class row, its alias substituted for the placeholder), one row
-- each, its owner's own left out: the lateral sub-query of the queries that read grants (AccessRead, PartitionGrants).
    SELECT NULL::text AS attname, a.privilege_type, a.grantee, a.grantor, a.is_grantable
    FROM aclexplode({{rel}}.relacl) a WHERE a.grantee <> {{rel}}.relowner
    UNION ALL
    SELECT at.attname::text, a.privilege_type, a.grantee, a.grantor, a.is_grantable
    FROM pg_catalog.pg_attribute at CROSS JOIN LATERAL aclexplode(at.attacl) a
    WHERE at.attrelid = {{rel}}.oid AND at.attnum > 0 AND NOT at.attisdropped AND a.grantee <> {{rel}}.relowner
