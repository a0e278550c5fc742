SELECT id, occurred_at, action FROM bench_plain WHERE tenant_id = 'small' ORDER BY occurred_at DESC LIMIT 50;
