\set t random(1, 20000)
INSERT INTO quota_usage AS u (tenant_id, resource, period_start, used, updated_at)
SELECT 't' || :t, 'api', date_trunc('day', now()), 1, now()
WHERE 1000000::bigint IS NULL OR 1 <= 1000000::bigint
ON CONFLICT (tenant_id, resource, period_start) DO UPDATE
    SET used = u.used + excluded.used, updated_at = excluded.updated_at
    WHERE u.used <= coalesce(1000000::bigint, 9223372036854775807) - excluded.used
RETURNING u.used;
