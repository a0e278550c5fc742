-- Adds @amount to the usage row unless that would pass @limit (NULL: unlimited). The row lock taken by
-- ON CONFLICT DO UPDATE serialises concurrent reservations, so they can never overshoot together.
-- Returns the new usage, or no row when the limit would be exceeded.
INSERT INTO {{schema}}.quota_usage AS u (tenant_id, resource, period_start, used, updated_at)
SELECT @tenant, @resource, @period_start, @amount, @now
WHERE @limit::bigint IS NULL OR @amount <= @limit::bigint
ON CONFLICT (tenant_id, resource, period_start) DO UPDATE
    SET used = u.used + excluded.used, updated_at = excluded.updated_at
    WHERE @limit::bigint IS NULL OR u.used + excluded.used <= @limit::bigint
RETURNING u.used;
