-- The append-only audit trail, partitioned by month on occurred_at. Partitions are created by partition maintenance
-- (ahead of time, no default partition: a default partition makes partition DDL wait on readers).
CREATE TABLE {{schema}}.audit_log (
    id          uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    tenant_id   text        NOT NULL,
    action      text        NOT NULL,
    entity_type text        NOT NULL,
    entity_id   text,
    actor       text,
    ip          inet,
    user_agent  text,
    changes     jsonb,
    metadata    jsonb,
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE INDEX audit_log_tenant_time ON {{schema}}.audit_log (tenant_id, occurred_at DESC);

-- Append-only: rows are never updated or deleted one by one (retention drops whole partitions).
CREATE FUNCTION {{schema}}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON {{schema}}.audit_log
    FOR EACH ROW EXECUTE FUNCTION {{schema}}.audit_log_append_only();
