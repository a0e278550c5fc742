-- Quota usage per tenant, resource and period (period_start = 1970-01-01 for standing counts such as documents).
CREATE TABLE IF NOT EXISTS {{schema}}.quota_usage (
    tenant_id    text        NOT NULL,
    resource     text        NOT NULL,
    period_start timestamptz NOT NULL,
    used         bigint      NOT NULL DEFAULT 0 CHECK (used >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, resource, period_start)
);
