-- Reservations made with an id the caller chose (IQuotaService.ReserveOnceAsync(resource, amount, reservationId, ...)): one
-- row per such reservation, written in the reservation's own transaction, so a repeat of it (a retry after a lost reply,
-- concurrent: it waits for the first one's transaction) finds the row, reserves nothing and returns the same reservation;
-- a reservation rolled back leaves no row and can be made again. Keyed by the id alone, so a repeat for another tenant is
-- refused too. Reservations made without an id write nothing here. A Day or Month row is needed as long as a release of
-- its reservation can be (until its period and the month after it have ended, as quota_release): each reservation with
-- an id deletes up to 10 rows past that point, found through quota_reservation_expiry. Rows of standing counts
-- (period_start 1970-01-01) are kept. attempt identifies the call that inserted the row, so the statement after the
-- insert (same batch) counts the usage only for a row this call inserted, and deletes it again when the limit refuses.
CREATE TABLE IF NOT EXISTS {{schema}}.quota_reservation (
    reservation_id uuid        NOT NULL PRIMARY KEY,
    tenant_id      text        NOT NULL,
    resource       text        NOT NULL,
    period_start   timestamptz NOT NULL,
    amount         bigint      NOT NULL CHECK (amount > 0),
    reserved_at    timestamptz NOT NULL,
    attempt        uuid        NOT NULL
);
CREATE INDEX IF NOT EXISTS quota_reservation_expiry ON {{schema}}.quota_reservation (period_start)
    WHERE period_start > '1970-01-01 00:00:00+00';
