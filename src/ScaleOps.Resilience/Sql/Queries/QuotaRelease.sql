-- Subtracts @amount from the usage row, never below zero. Returns the new usage (no row: nothing was reserved).
UPDATE {{schema}}.quota_usage
SET used = greatest(used - @amount, 0), updated_at = @now
WHERE tenant_id = @tenant AND resource = @resource AND period_start = @period_start
RETURNING used;
