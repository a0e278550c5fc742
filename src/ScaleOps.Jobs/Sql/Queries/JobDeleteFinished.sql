-- Retention: deletes one batch of finished jobs in a state that finished before @cutoff.
WITH old AS (
    SELECT j.id FROM {{schema}}.jobs j
    WHERE j.state = @state AND j.finished_at < @cutoff
    ORDER BY j.finished_at
    LIMIT @limit
    FOR UPDATE SKIP LOCKED
)
DELETE FROM {{schema}}.jobs j USING old WHERE j.id = old.id
