-- Adds @amount to the usage row unless that would pass @limit (NULL: unlimited, which is still at most the largest
-- bigint). The row lock taken by ON CONFLICT DO UPDATE serialises concurrent reservations, so they can never overshoot
-- together. The check is written as used <= limit - amount, which cannot overflow (both are at least 1), and is made
-- before SET computes used + amount, so a reservation past the largest bigint is refused instead of failing with 22003.
-- Returns the new usage, or no row when the limit would be exceeded.
-- Also deletes up to 10 usage rows of Day or Month periods that started before the previous UTC month (of @now), any
-- tenant's (rows another transaction holds are skipped): nothing reads them any more, and without this the table grew
-- by a row per tenant per day for good. A reservation adds at most one row, so the table keeps about two months.
WITH pruned AS (
    DELETE FROM {{schema}}.quota_usage AS p
    WHERE p.ctid = ANY (ARRAY(
        SELECT x.ctid FROM {{schema}}.quota_usage AS x
        WHERE x.period_start > '1970-01-01 00:00:00+00'
          AND x.period_start < date_trunc('month', @now::timestamptz, 'UTC') - interval '1 month'
        LIMIT 10
        FOR UPDATE OF x SKIP LOCKED))
    RETURNING 1
)
INSERT INTO {{schema}}.quota_usage AS u (tenant_id, resource, period_start, used, updated_at)
SELECT @tenant, @resource, @period_start, @amount, @now
WHERE @limit::bigint IS NULL OR @amount <= @limit::bigint
ON CONFLICT (tenant_id, resource, period_start) DO UPDATE
    SET used = u.used + excluded.used, updated_at = excluded.updated_at
    WHERE u.used <= coalesce(@limit::bigint, 9223372036854775807) - excluded.used
RETURNING u.used;
