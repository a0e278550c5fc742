-- Gives back reservation @reservation once: its row in quota_release is inserted by the first release only (ON CONFLICT
-- DO NOTHING; a concurrent release waits for the first one's transaction, then inserts nothing, or inserts if it rolled
-- back), and the usage row of its period is lowered only when that insert happened. Returns the new usage and the amount
-- given back (a row with mismatch NULL); no row: already released, nothing in use in that period, or too late.
-- Checked: a reservation made with this id by ReserveOnceAsync (its row in quota_reservation) must be the one given back,
-- same tenant, resource, amount and period; otherwise nothing is inserted or given back, and the one row returned says
-- what the record holds (mismatch: 'tenant', with nothing else of another tenant's record, or 'reservation', with its
-- resource, amount and period). Recorded rows are never changed once committed, and deleted only when their period is
-- past the release window below (or in the transaction that inserted them), so the statement's snapshot reads them
-- reliably; a reservation whose transaction has not committed is not seen (nor may it be released, as it may roll back).
-- Ids made by ReserveAsync have no record and are not checked.
-- Too late: a Day or Month period that started before the previous UTC month (of @now). Such a reservation is no longer
-- given back, so its row is not needed: this statement deletes up to 10 such rows (any tenant's; rows another
-- transaction holds are skipped, so releases never wait on each other for it), which keeps the table to about two
-- months of releases. Standing counts (period_start 1970-01-01) are always given back once, and their rows kept.
WITH cutoff AS (
    SELECT date_trunc('month', @now::timestamptz, 'UTC') - interval '1 month' AS at
), mismatch AS (
    SELECT CASE WHEN r.tenant_id <> @tenant THEN 'tenant' ELSE 'reservation' END AS kind,
           CASE WHEN r.tenant_id = @tenant THEN r.resource END AS resource,
           CASE WHEN r.tenant_id = @tenant THEN r.amount END AS amount,
           CASE WHEN r.tenant_id = @tenant THEN r.period_start END AS period_start
    FROM {{schema}}.quota_reservation AS r
    WHERE r.reservation_id = @reservation
      AND (r.tenant_id, r.resource, r.amount, r.period_start) IS DISTINCT FROM (@tenant, @resource, @amount, @period_start::timestamptz)
), released AS (
    INSERT INTO {{schema}}.quota_release (tenant_id, reservation_id, resource, period_start, amount, released_at)
    SELECT @tenant, @reservation, @resource, @period_start, @amount, @now
    FROM cutoff
    WHERE (@period_start::timestamptz = '1970-01-01 00:00:00+00' OR @period_start::timestamptz >= cutoff.at)
      AND NOT EXISTS (SELECT 1 FROM mismatch)
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
), given AS (
    UPDATE {{schema}}.quota_usage AS u
    SET used = greatest(u.used - released.amount, 0), updated_at = @now
    FROM released, before
    WHERE u.tenant_id = @tenant AND u.resource = @resource AND u.period_start = @period_start
    RETURNING u.used, before.used - u.used AS released
)
SELECT used, released, NULL::text AS mismatch, NULL::text AS resource, NULL::bigint AS amount, NULL::timestamptz AS period_start
FROM given
UNION ALL
SELECT NULL, NULL, kind, resource, amount, period_start
FROM mismatch;
