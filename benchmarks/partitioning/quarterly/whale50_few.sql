SELECT id, occurred_at, action FROM scaleops.audit_few WHERE tenant_id = 'whale' AND occurred_at >= :f AND occurred_at < :to ORDER BY occurred_at DESC LIMIT 50;
