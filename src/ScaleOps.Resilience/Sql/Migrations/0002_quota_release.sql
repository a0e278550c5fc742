-- Reservations given back by id (IQuotaService.ReleaseOnceAsync(QuotaReservation)): one row per reservation released, so a
-- second release of it, concurrent (it waits for the first one's transaction) or later, inserts nothing and so gives
-- nothing back. A Day or Month reservation can be given back until its period and the month after it have ended (a
-- release later than that gives nothing back), so its row is needed only until then: each release deletes up to 10 rows
-- past that point, found through quota_release_expiry. Rows of standing counts (period_start 1970-01-01) are kept.
CREATE TABLE IF NOT EXISTS {{schema}}.quota_release (
    tenant_id      text        NOT NULL,
    reservation_id uuid        NOT NULL,
    resource       text        NOT NULL,
    period_start   timestamptz NOT NULL,
    amount         bigint      NOT NULL CHECK (amount > 0),
    released_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, reservation_id)
);
CREATE INDEX IF NOT EXISTS quota_release_expiry ON {{schema}}.quota_release (period_start)
    WHERE period_start > '1970-01-01 00:00:00+00';
