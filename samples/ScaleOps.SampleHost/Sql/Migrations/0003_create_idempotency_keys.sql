-- The Idempotency-Key of each POST /documents that created a document, kept 24 hours (DocumentStore.KeyRetention):
-- written in the document's transaction, so a key exists exactly when its create committed. A retry finds the key and
-- answers the document it names instead of creating (and reserving quota) again. Per tenant: another tenant's key of the
-- same value is another row. request_hash (SHA-256 of the request's title and body) tells a retry from another request.
-- No foreign key to the document: the key outlives a deleted document, so its retry is refused rather than recreating it.
CREATE TABLE app.idempotency_keys (
    tenant_id    text        NOT NULL REFERENCES app.tenants (id),
    key          text        NOT NULL CHECK (key ~ '^[!-~]{1,255}$'),
    request_hash bytea       NOT NULL CHECK (octet_length(request_hash) = 32),
    document_id  uuid        NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- The removal of a tenant's expired keys (after each create with a key).
CREATE INDEX idempotency_keys_tenant_created ON app.idempotency_keys (tenant_id, created_at);
