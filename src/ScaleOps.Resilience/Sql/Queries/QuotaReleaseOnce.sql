-- Gives back reservation @reservation once: its row in quota_release is inserted by the first release only (ON CONFLICT
-- DO NOTHING; a concurrent release waits for the first one's transaction, then inserts nothing, or inserts if it rolled
-- back), and the usage row of its period is lowered only when that insert happened. Returns the new usage and the amount
-- given back; no row: already released, or nothing in use in that period.
WITH released AS (
    INSERT INTO {{schema}}.quota_release (tenant_id, reservation_id, resource, period_start, amount, released_at)
    VALUES (@tenant, @reservation, @resource, @period_start, @amount, @now)
    ON CONFLICT (tenant_id, reservation_id) DO NOTHING
    RETURNING amount
), before AS (
    SELECT q.used FROM {{schema}}.quota_usage AS q, released
    WHERE q.tenant_id = @tenant AND q.resource = @resource AND q.period_start = @period_start
    FOR UPDATE OF q
)
UPDATE {{schema}}.quota_usage AS u
SET used = greatest(u.used - released.amount, 0), updated_at = @now
FROM released, before
WHERE u.tenant_id = @tenant AND u.resource = @resource AND u.period_start = @period_start
RETURNING u.used, before.used - u.used AS released;
