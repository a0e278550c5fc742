-- This database's archive identity, made once: recorded in every archive manifest it writes, so that two databases
-- archiving into one container (staging and production on one storage account, two shards) cannot take each other's
-- archive for their own; table oids do not tell them apart (two databases built by the same migrations can have the
-- same). A table, not a setting: pg_dump/pg_restore and physical backups carry it, so a database restored after a
-- disaster keeps its identity and restores its archives. A copy meant to live on beside the original (a production
-- dump loaded as staging) should be given one of its own: UPDATE {{schema}}.archive_identity SET id = gen_random_uuid().
CREATE TABLE {{schema}}.archive_identity (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    single     boolean     NOT NULL DEFAULT true PRIMARY KEY CHECK (single)
);

INSERT INTO {{schema}}.archive_identity DEFAULT VALUES;
