-- Subtracts @amount from the usage row of @period_start, never below zero. Returns the new usage and the amount given
-- back (no row: nothing was reserved). To give back a reservation, @period_start is the period it was made in, not the
-- period of the release: after a period boundary the current period's row would be freed instead. The row is locked
-- before it is read, so "released" is the difference this statement made even when releases or reservations race.
WITH before AS (
    SELECT used FROM {{schema}}.quota_usage
    WHERE tenant_id = @tenant AND resource = @resource AND period_start = @period_start
    FOR UPDATE
)
UPDATE {{schema}}.quota_usage AS u
SET used = greatest(u.used - @amount, 0), updated_at = @now
FROM before
WHERE u.tenant_id = @tenant AND u.resource = @resource AND u.period_start = @period_start
RETURNING u.used, before.used - u.used AS released;
