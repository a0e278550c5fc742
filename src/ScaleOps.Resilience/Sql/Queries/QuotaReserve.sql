-- Adds @amount to the usage row unless that would pass @limit (NULL: unlimited, which is still at most the largest
-- bigint). The row lock taken by ON CONFLICT DO UPDATE serialises concurrent reservations, so they can never overshoot
-- together. The check is written as used <= limit - amount, which cannot overflow (both are at least 1), and is made
-- before SET computes used + amount, so a reservation past the largest bigint is refused instead of failing with 22003.
-- Returns the new usage, or no row when the limit would be exceeded.
INSERT INTO {{schema}}.quota_usage AS u (tenant_id, resource, period_start, used, updated_at)
SELECT @tenant, @resource, @period_start, @amount, @now
WHERE @limit::bigint IS NULL OR @amount <= @limit::bigint
ON CONFLICT (tenant_id, resource, period_start) DO UPDATE
    SET used = u.used + excluded.used, updated_at = excluded.updated_at
    WHERE u.used <= coalesce(@limit::bigint, 9223372036854775807) - excluded.used
RETURNING u.used;
