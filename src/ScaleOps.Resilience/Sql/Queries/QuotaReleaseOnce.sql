-- Gives back reservation @reservation once: its row in quota_release is inserted by the first release only (ON CONFLICT
-- DO NOTHING; a concurrent release waits for the first one's transaction, then inserts nothing, or inserts if it rolled
-- back), and the usage row of its period is lowered only when that insert happened. Returns the new usage and the amount
-- given back; no row: already released, nothing in use in that period, or too late.
-- Too late: a Day or Month period that started before the previous UTC month (of @now). Such a reservation is no longer
-- given back, so its row is not needed: this statement deletes up to 10 such rows (any tenant's; rows another
-- transaction holds are skipped, so releases never wait on each other for it), which keeps the table to about two
-- months of releases. Standing counts (period_start 1970-01-01) are always given back once, and their rows kept.
WITH cutoff AS (
    SELECT date_trunc('month', @now::timestamptz, 'UTC') - interval '1 month' AS at
), released AS (
    INSERT INTO {{schema}}.quota_release (tenant_id, reservation_id, resource, period_start, amount, released_at)
    SELECT @tenant, @reservation, @resource, @period_start, @amount, @now
    FROM cutoff
    WHERE @period_start::timestamptz = '1970-01-01 00:00:00+00' OR @period_start::timestamptz >= cutoff.at
    ON CONFLICT (tenant_id, reservation_id) DO NOTHING
    RETURNING amount
), pruned AS (
    DELETE FROM {{schema}}.quota_release AS r
    WHERE r.ctid = ANY (ARRAY(
        SELECT x.ctid FROM {{schema}}.quota_release AS x, cutoff
        WHERE x.period_start > '1970-01-01 00:00:00+00' AND x.period_start < cutoff.at
        LIMIT 10
        FOR UPDATE OF x SKIP LOCKED))
    RETURNING 1
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
