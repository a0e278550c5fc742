\set t random(1, 20000)
WITH pruned AS (
    DELETE FROM quota_usage AS p
    WHERE p.ctid = ANY (ARRAY(
        SELECT x.ctid FROM quota_usage AS x
        WHERE x.period_start > '1970-01-01 00:00:00+00'
          AND x.period_start < date_trunc('month', now(), 'UTC') - interval '1 month'
        LIMIT 10
        FOR UPDATE OF x SKIP LOCKED))
    RETURNING 1
)
INSERT INTO quota_usage AS u (tenant_id, resource, period_start, used, updated_at)
SELECT 't' || :t, 'api', date_trunc('day', now()), 1, now()
WHERE 1000000::bigint IS NULL OR 1 <= 1000000::bigint
ON CONFLICT (tenant_id, resource, period_start) DO UPDATE
    SET used = u.used + excluded.used, updated_at = excluded.updated_at
    WHERE u.used <= coalesce(1000000::bigint, 9223372036854775807) - excluded.used
RETURNING u.used;
