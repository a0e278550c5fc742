-- First of the two statements of a reservation with an id the caller chose (QuotaReserveOnceCount.sql follows in the
-- same batch, so in the same transaction: the caller's, or the implicit one of the batch, which commits both or neither,
-- with a single round trip). Claims id @reservation for this call (@attempt): its row in quota_reservation is inserted
-- only if no row holds the id (ON CONFLICT DO NOTHING: a concurrent repeat waits for the first one's transaction, then
-- inserts nothing, or inserts if it rolled back). Nothing is claimed for an id that ReleaseOnceAsync already gave back
-- (its quota_release row): a reservation released before it was made must not be made afterwards, where no release
-- could give it back. Returns whether the id was claimed here and whether it was found released.
-- Also deletes up to 10 rows each of quota_reservation and quota_usage of Day or Month periods that started before the
-- previous UTC month (of @now), any tenant's (rows another transaction holds are skipped), as QuotaReleaseOnce.sql and
-- QuotaReserve.sql do: such reservations are no longer given back, so a repeat of their id is no longer expected.
WITH cutoff AS (
    SELECT date_trunc('month', @now::timestamptz, 'UTC') - interval '1 month' AS at
), released AS (
    SELECT 1 FROM {{schema}}.quota_release
    WHERE tenant_id = @tenant AND reservation_id = @reservation
), claimed AS (
    INSERT INTO {{schema}}.quota_reservation (reservation_id, tenant_id, resource, period_start, amount, reserved_at, attempt)
    SELECT @reservation, @tenant, @resource, @period_start, @amount, @now, @attempt
    WHERE NOT EXISTS (SELECT 1 FROM released)
    ON CONFLICT (reservation_id) DO NOTHING
    RETURNING 1
), pruned_reservations AS (
    DELETE FROM {{schema}}.quota_reservation AS r
    WHERE r.ctid = ANY (ARRAY(
        SELECT x.ctid FROM {{schema}}.quota_reservation AS x, cutoff
        WHERE x.period_start > '1970-01-01 00:00:00+00' AND x.period_start < cutoff.at
        LIMIT 10
        FOR UPDATE OF x SKIP LOCKED))
    RETURNING 1
), pruned_usage AS (
    DELETE FROM {{schema}}.quota_usage AS p
    WHERE p.ctid = ANY (ARRAY(
        SELECT x.ctid FROM {{schema}}.quota_usage AS x, cutoff
        WHERE x.period_start > '1970-01-01 00:00:00+00' AND x.period_start < cutoff.at
        LIMIT 10
        FOR UPDATE OF x SKIP LOCKED))
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM claimed), EXISTS (SELECT 1 FROM released);
