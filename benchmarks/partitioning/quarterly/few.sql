-- A monthly copy with only 12 partitions attached (8 back, the current month, 3 ahead) of the rows since 2026-05-01, beside
-- the 29-partition scaleops.audit_log: does the number of attached partitions matter for short queries? (docs/benchmarks.md)
-- Run after setup.sql; move the dates for another load date.
CREATE TABLE scaleops.audit_few (LIKE scaleops.audit_log INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at);
SELECT format('CREATE TABLE scaleops.audit_few_p%s PARTITION OF scaleops.audit_few FOR VALUES FROM (%L) TO (%L)',
              to_char(s, 'YYYY_MM'), s::timestamptz, (s + interval '1 month')::timestamptz)
FROM generate_series(date '2026-05-01', date '2027-04-01', interval '1 month') s \gexec
INSERT INTO scaleops.audit_few SELECT * FROM bench_plain WHERE occurred_at >= '2026-05-01';
ALTER TABLE scaleops.audit_few ADD PRIMARY KEY (id, occurred_at);
CREATE INDEX audit_few_tenant_time ON scaleops.audit_few (tenant_id, occurred_at DESC);
CREATE INDEX audit_few_time_brin ON scaleops.audit_few USING brin (occurred_at);
VACUUM ANALYZE scaleops.audit_few;
