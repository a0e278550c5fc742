CREATE TABLE app.documents (
    tenant_id  text        NOT NULL REFERENCES app.tenants (id),
    id         uuid        NOT NULL,
    title      text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    indexed_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);

-- Keyset pagination, newest first, always within one tenant.
CREATE INDEX documents_tenant_created ON app.documents (tenant_id, created_at DESC, id DESC);
