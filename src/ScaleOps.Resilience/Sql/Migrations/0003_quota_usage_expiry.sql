-- Usage rows of a Day or Month period are read (usage, limits) only while the period runs and changed by a release at
-- most until the month after it has ended (IQuotaService.ReleaseOnceAsync gives nothing back later): each reservation
-- deletes up to 10 rows of periods that started before the previous UTC month, found through this index, so the table
-- holds about two months of periodic usage instead of a row per tenant per day for good. Standing counts (period_start
-- 1970-01-01) are kept.
CREATE INDEX IF NOT EXISTS quota_usage_expiry ON {{schema}}.quota_usage (period_start)
    WHERE period_start > '1970-01-01 00:00:00+00';
