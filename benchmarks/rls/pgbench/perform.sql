\startpipeline
CALL public.ctx_perform(:tid, NULL, NULL);
SELECT id, tenant_id, created_at, payload FROM events WHERE id = :id;
\endpipeline
