-- The consumer's own schema, applied by AddMigrations("consumer", ...) with the packages' migrations.
CREATE SCHEMA app;

-- A tenant table protected by ScaleOps.Rls (ProtectTenantTable("app", "notes")).
CREATE TABLE app.notes (
    id        bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id text NOT NULL,
    body      text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- A table whose monthly partitions ScaleOps.Partitioning keeps.
CREATE TABLE app.events (
    created_at timestamptz NOT NULL,
    name       text        NOT NULL
) PARTITION BY RANGE (created_at);
