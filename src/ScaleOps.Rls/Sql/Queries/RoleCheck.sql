-- The connected role's bypass attributes: a superuser or BYPASSRLS role ignores every policy, even with FORCE.
SELECT current_user::text, r.rolsuper, r.rolbypassrls
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user
