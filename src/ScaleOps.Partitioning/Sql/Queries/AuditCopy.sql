COPY {{schema}}.audit_log (id, occurred_at, tenant_id, action, entity_type, entity_id, actor, ip, user_agent, changes, metadata) FROM STDIN (FORMAT BINARY)
