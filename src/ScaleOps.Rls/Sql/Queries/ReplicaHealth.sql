-- Whether this server is a standby, and its replay lag in seconds: 0 when it has replayed all it received, else the
-- age of the last replayed transaction measured against $1 (now, so tests can move time; null = server clock).
SELECT pg_catalog.pg_is_in_recovery(),
       CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN NULL
            WHEN pg_catalog.pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_catalog.pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM (coalesce($1::timestamptz, now()) - pg_catalog.pg_last_xact_replay_timestamp()))::float8
       END
