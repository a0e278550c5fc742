CREATE SCHEMA IF NOT EXISTS app;

CREATE TABLE app.tenants (
    id         text        PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,63}$'),
    plan       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
