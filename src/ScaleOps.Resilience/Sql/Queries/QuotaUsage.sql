-- The usage of one resource in one period (no row: zero).
SELECT used FROM {{schema}}.quota_usage
WHERE tenant_id = @tenant AND resource = @resource AND period_start = @period_start;
