-- Reservations given back by id (IQuotaService.ReleaseOnceAsync(QuotaReservation)): one row per reservation released, so a
-- second release of it, concurrent (it waits for the first one's transaction) or later, inserts nothing and so gives
-- nothing back. Rows are never deleted (a deleted one would let the reservation be given back again).
CREATE TABLE IF NOT EXISTS {{schema}}.quota_release (
    tenant_id      text        NOT NULL,
    reservation_id uuid        NOT NULL,
    resource       text        NOT NULL,
    period_start   timestamptz NOT NULL,
    amount         bigint      NOT NULL CHECK (amount > 0),
    released_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, reservation_id)
);
