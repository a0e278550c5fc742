-- Views and materialized views that read one of the tables ($1, regclass names) with their owner's rights:
-- a view without security_invoker = true checks policies as its owner (a superuser owner sees every tenant), and a
-- materialized view stores every tenant's rows.
SELECT DISTINCT v.oid::regclass::text, t.oid::regclass::text, v.relkind = 'm'
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass
  AND d.refclassid = 'pg_catalog.pg_class'::regclass
  AND d.refobjid = ANY ($1::regclass[])
  AND v.oid <> t.oid
  AND v.relkind IN ('v', 'm')
  AND NOT coalesce((SELECT o.option_value::bool FROM pg_catalog.pg_options_to_table(v.reloptions) o
                    WHERE o.option_name = 'security_invoker'), false)
ORDER BY 1, 2
