-- The primary's current WAL write position, compared with each replica's replay position by the replica health check.
SELECT pg_catalog.pg_current_wal_lsn()::text
