-- Subtracts @amount from the usage row of @period_start, never below zero. Returns the new usage (no row: nothing was
-- reserved). To give back a reservation, @period_start is the period it was made in, not the period of the release:
-- after a period boundary the current period's row would be freed instead.
UPDATE {{schema}}.quota_usage
SET used = greatest(used - @amount, 0), updated_at = @now
WHERE tenant_id = @tenant AND resource = @resource AND period_start = @period_start
RETURNING used;
