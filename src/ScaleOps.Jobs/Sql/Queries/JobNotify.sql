-- Wakes the workers of a queue once the transaction commits (after a COPY of new jobs).
SELECT count(*) FROM (SELECT pg_notify({{channel}}, @queue) WHERE @run_at <= greatest(@now, statement_timestamp())) x
