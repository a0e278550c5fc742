SELECT id, tenant_id, created_at, payload FROM events WHERE tenant_id = :tid AND id = :id;
