-- One declared table: RLS flags, policy count, and whether an index leads with the tenant column.
-- $1 schema, $2 table, $3 tenant column (may be null), $4 user column (may be null).
-- A column of a domain is judged by the domain's base type (followed through domains over domains): a domain over
-- citext compares case-insensitively, and a domain over numeric casts like numeric.
-- The column types are read without their length (varchar, not varchar(8); bpchar, not char(8), since a bare
-- "character" means char(1)): the policy casts the setting to this type, and a cast to varchar(n) or char(n) silently
-- truncates, so 'acme-inc-evil' would match 'acme-inc'.
SELECT c.oid::regclass::text,
       c.relrowsecurity,
       c.relforcerowsecurity,
       (SELECT count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)::int,
       cols.tenant_type,
       cols.owner_type,
       -- The tenant column compares case-insensitively (citext, or a nondeterministic collation): 'ACME' = 'acme'.
       coalesce(cols.tenant_case_insensitive, false),
       -- The user column likewise: 'ALICE' = 'alice', so user 'ALICE' would read alice's rows.
       coalesce(cols.owner_case_insensitive, false),
       -- Only a valid, complete index serves every tenant's queries: not one left INVALID by a failed concurrent build,
       -- nor a partial one.
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a
                 ON a.attrelid = c.oid AND a.attnum = i.indkey[0] AND a.attname = $3
               WHERE i.indrelid = c.oid AND i.indisvalid AND i.indpred IS NULL),
       -- Permissive policies this package does not manage: PostgreSQL ORs them with the tenant policy.
       (SELECT string_agg(p.polname::text, ', ' ORDER BY p.polname) FROM pg_catalog.pg_policy p
         WHERE p.polrelid = c.oid AND p.polpermissive AND p.polname NOT LIKE 'scaleops\_%'),
       -- What the connected role may do beyond row security: as (a member of) the owner it may disable it or drop the
       -- policies, and TRUNCATE ignores row security altogether.
       pg_catalog.pg_has_role(c.relowner, 'USAGE'),
       pg_catalog.has_table_privilege(c.oid, 'TRUNCATE'),
       -- Unique indexes other than the primary key whose key leaves out the tenant column: a write that collides with
       -- another tenant's value fails with a unique violation, which tells the tenant that the value exists elsewhere.
       (SELECT string_agg(ic.relname::text, ', ' ORDER BY ic.relname)
          FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = c.oid AND i.indisunique AND NOT i.indisprimary AND $3 IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid = c.oid AND a.attname = $3 AND a.attnum = ANY (i.indkey::int2[])))
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
-- The tenant ($3) and user ($4) columns, read in one pass: each one's type and whether it compares case-insensitively.
LEFT JOIN LATERAL (
    SELECT max(col.type) FILTER (WHERE col.attname = $3) AS tenant_type,
           bool_or(col.case_insensitive) FILTER (WHERE col.attname = $3) AS tenant_case_insensitive,
           max(col.type) FILTER (WHERE col.attname = $4) AS owner_type,
           bool_or(col.case_insensitive) FILTER (WHERE col.attname = $4) AS owner_case_insensitive
    FROM (
        SELECT a.attname,
               CASE WHEN b.typ = 'pg_catalog.bpchar'::pg_catalog.regtype THEN 'bpchar' ELSE pg_catalog.format_type(b.typ, NULL) END AS type,
               (bt.typname = 'citext' OR coalesce(NOT co.collisdeterministic, false)) AS case_insensitive
        FROM pg_catalog.pg_attribute a
        CROSS JOIN LATERAL (
            WITH RECURSIVE d(typ, depth) AS (
                SELECT a.atttypid, 0
                UNION ALL
                SELECT t.typbasetype, d.depth + 1 FROM d JOIN pg_catalog.pg_type t ON t.oid = d.typ WHERE t.typtype = 'd')
            SELECT d.typ FROM d ORDER BY d.depth DESC LIMIT 1) b
        JOIN pg_catalog.pg_type bt ON bt.oid = b.typ
        LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
        WHERE a.attrelid = c.oid AND a.attname IN ($3, $4) AND a.attnum > 0 AND NOT a.attisdropped) col
) cols ON true
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
