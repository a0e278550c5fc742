-- A quarterly copy of the benchmark's audit rows, beside the monthly scaleops.audit_log and the plain bench_plain.
-- Run against a database loaded by: benchmarks/partitioning/run.sh --only load --database bench_q
-- The quarters cover the 730 days before the load's "now" (2024-12 to 2026-12 when loaded on 2026-12-06); move
-- FIRST and LAST for another load date.
\set FIRST '2024-10-01'
\set LAST '2027-04-01'
CREATE TABLE scaleops.audit_q (LIKE scaleops.audit_log INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at);
SELECT format('CREATE TABLE scaleops.audit_q_p%s PARTITION OF scaleops.audit_q FOR VALUES FROM (%L) TO (%L)',
              to_char(s, 'YYYY"q"Q'), s::timestamptz, (s + interval '3 months')::timestamptz)
FROM generate_series(date :'FIRST', date :'LAST' - interval '3 months', interval '3 months') s \gexec
INSERT INTO scaleops.audit_q SELECT * FROM bench_plain;
ALTER TABLE scaleops.audit_q ADD PRIMARY KEY (id, occurred_at);
CREATE INDEX audit_q_tenant_time ON scaleops.audit_q (tenant_id, occurred_at DESC);
CREATE INDEX audit_q_time_brin ON scaleops.audit_q USING brin (occurred_at);
VACUUM ANALYZE scaleops.audit_q;
