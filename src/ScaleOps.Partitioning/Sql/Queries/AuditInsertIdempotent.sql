-- A retried audit batch: the same rows as AuditCopy, as arrays, skipping ids already written (an earlier attempt whose
-- reply was lost may have committed them; the ids are ours, UUIDv7, so a conflict is that same event).
INSERT INTO {{schema}}.audit_log (id, occurred_at, tenant_id, action, entity_type, entity_id, actor, ip, user_agent, changes, metadata)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::inet[], $9::text[], $10::jsonb[], $11::jsonb[])
ON CONFLICT (id, occurred_at) DO NOTHING
