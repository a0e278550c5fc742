\startpipeline
CALL scaleops.rls_set_context(:tid, NULL, NULL);
SELECT id, tenant_id, created_at, payload FROM events WHERE id = :id;
\endpipeline
