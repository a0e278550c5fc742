-- A read replica's health, run on the replica. $1: now (the router's clock, so tests can move time); $2: the primary's
-- WAL position (text pg_lsn) read just before, or null when the primary could not be asked.
-- A replica cut off from its upstream (primary unreachable, WAL receiver stopped) receives nothing, so its receive and
-- replay positions stay equal and "nothing left to replay" looks healthy forever: only the primary's position (or the
-- missing WAL receiver) reveals that it is behind. Columns: is it a standby; is a WAL receiver running (pid only: any
-- role may see it); has it replayed the primary's position $2 (null without $2); has it replayed all it received; the
-- age in seconds of its last replayed transaction against $1 (null when none was replayed since it started); and
-- whether the role this replica is reached as bypasses row-level security (SUPERUSER or BYPASSRLS), with its name; last,
-- the context settings as the session started (a role's or database's default, the connection's options), which the
-- transaction-local context falls back to at every transaction's end.
SELECT pg_catalog.pg_is_in_recovery(),
       EXISTS (SELECT FROM pg_catalog.pg_stat_wal_receiver WHERE pid IS NOT NULL),
       pg_catalog.pg_last_wal_replay_lsn() >= $2::text::pg_catalog.pg_lsn,
       pg_catalog.pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_catalog.pg_last_wal_replay_lsn(),
       extract(epoch FROM ($1::timestamptz - pg_catalog.pg_last_xact_replay_timestamp()))::float8,
       coalesce((SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user), false),
       current_user::text,
       pg_catalog.current_setting('app.tenant_id', true), pg_catalog.current_setting('app.user_id', true),
       nullif(pg_catalog.current_setting('app.roles', true), '{}')
