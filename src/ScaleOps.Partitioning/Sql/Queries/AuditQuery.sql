-- One tenant's audit events in [from, to), newest first. Run with plan_cache_mode = force_generic_plan: the generic
-- plan prunes partitions at run time from $2/$3 (a custom plan would plan every partition on each call).
SELECT id, occurred_at, tenant_id, action, entity_type, entity_id, actor, ip, user_agent, changes::text, metadata::text
FROM {{schema}}.audit_log
WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
ORDER BY occurred_at DESC
LIMIT $4
