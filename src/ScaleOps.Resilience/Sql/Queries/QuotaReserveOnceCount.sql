-- Second statement of a reservation with an id (after QuotaReserveOnceClaim.sql, same batch and transaction): adds
-- @amount to the usage row only if this call (@attempt) claimed the id, with the check of QuotaReserve.sql (never past
-- @limit, never past the largest bigint; the row lock serialises concurrent reservations). When the limit refuses it,
-- the claim is deleted again before anything commits, so the id stays free. Returns the new usage; no row when this
-- call did not claim the id or the limit refused it.
WITH mine AS (
    SELECT amount FROM {{schema}}.quota_reservation
    WHERE reservation_id = @reservation AND attempt = @attempt
), reserved AS (
    INSERT INTO {{schema}}.quota_usage AS u (tenant_id, resource, period_start, used, updated_at)
    SELECT @tenant, @resource, @period_start, mine.amount, @now
    FROM mine
    WHERE @limit::bigint IS NULL OR @amount <= @limit::bigint
    ON CONFLICT (tenant_id, resource, period_start) DO UPDATE
        SET used = u.used + excluded.used, updated_at = excluded.updated_at
        WHERE u.used <= coalesce(@limit::bigint, 9223372036854775807) - excluded.used
    RETURNING u.used
), refused AS (
    DELETE FROM {{schema}}.quota_reservation
    WHERE reservation_id = @reservation AND attempt = @attempt AND NOT EXISTS (SELECT 1 FROM reserved)
    RETURNING 1
)
SELECT used FROM reserved;
