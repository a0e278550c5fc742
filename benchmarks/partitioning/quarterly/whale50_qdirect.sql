SELECT id, occurred_at, action FROM scaleops.audit_q_p2026q4 WHERE tenant_id = 'whale' AND occurred_at >= :qf AND occurred_at < :to ORDER BY occurred_at DESC LIMIT 50;
