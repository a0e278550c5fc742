-- One tenant's audit events in [from, to), newest first. Run with plan_cache_mode = force_generic_plan: the generic
-- plan prunes partitions at run time from $2/$3 (a custom plan would plan every partition on each call).
SELECT id, occurred_at, tenant_id, action, entity_type, entity_id, actor, ip, user_agent, changes::text, metadata::text
FROM {{schema}}.audit_log
-- A page after a position ($5 the id, $6 the time) has $3 just past the position's time: of the events at that time,
-- only those with a smaller id come after it; events of the same time are ordered by id, so pages never skip or repeat.
WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
  AND ($5::uuid IS NULL OR occurred_at < $6::timestamptz OR id < $5::uuid)
ORDER BY occurred_at DESC, id DESC
LIMIT $4
