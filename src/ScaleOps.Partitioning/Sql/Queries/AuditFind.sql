-- One audit event by id; $2/$3 are the id's own timestamp, so only its partition is read.
SELECT id, occurred_at, tenant_id, action, entity_type, entity_id, actor, ip, user_agent, changes::text, metadata::text
FROM {{schema}}.audit_log
WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND id = $4
