-- The reservation made with id @reservation (no row: none, or rolled back), and the usage of its period now. Run as a
-- statement of its own after QuotaReserveOnceClaim.sql found the id taken, so it sees the row a concurrent first reservation
-- committed while that statement waited for it.
SELECT r.tenant_id, r.resource, r.amount, r.period_start, coalesce(u.used, 0)
FROM {{schema}}.quota_reservation AS r
LEFT JOIN {{schema}}.quota_usage AS u
    ON u.tenant_id = r.tenant_id AND u.resource = r.resource AND u.period_start = r.period_start
WHERE r.reservation_id = @reservation;
