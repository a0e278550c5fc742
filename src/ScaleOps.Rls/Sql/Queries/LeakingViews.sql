-- Views and materialized views that read one of the tables ($1, regclass names) with their owner's rights:
-- a view without security_invoker = true checks policies as its owner (a superuser owner sees every tenant), and a
-- materialized view stores every tenant's rows (those its refresh could see).
-- A materialized view is followed through views: one over a view of the table stores the rows just the same. A plain
-- view only where it reads the table itself: the tables of a security_invoker view are checked as the caller even
-- under a definer view, and a definer view under another one is reported itself.
WITH RECURSIVE readers (view_oid, table_oid, direct) AS (
    SELECT r.ev_class, d.refobjid, true
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass
      AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND d.refobjid = ANY ($1::regclass[])
      AND r.ev_class <> d.refobjid
  UNION
    SELECT r.ev_class, readers.table_oid, false
    FROM readers
    JOIN pg_catalog.pg_class through ON through.oid = readers.view_oid AND through.relkind = 'v'
    JOIN pg_catalog.pg_depend d ON d.refobjid = readers.view_oid
        AND d.classid = 'pg_catalog.pg_rewrite'::regclass
        AND d.refclassid = 'pg_catalog.pg_class'::regclass
    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
    WHERE r.ev_class <> readers.view_oid
)
SELECT DISTINCT v.oid::regclass::text, t.oid::regclass::text, v.relkind = 'm'
FROM readers
JOIN pg_catalog.pg_class v ON v.oid = readers.view_oid
JOIN pg_catalog.pg_class t ON t.oid = readers.table_oid
WHERE v.relkind = 'm'
   OR (v.relkind = 'v' AND readers.direct
       AND NOT coalesce((SELECT o.option_value::bool FROM pg_catalog.pg_options_to_table(v.reloptions) o
                         WHERE o.option_name = 'security_invoker'), false))
ORDER BY 1, 2
