-- Retention: deletes one batch of finished jobs in a state that finished longer than @retention ago. finished_at is the
-- database's clock (every statement that finishes a job writes it so), and so is the cutoff, read once per statement:
-- a retaining host's clock minus the retention deleted jobs early when it was ahead of the finishing host's (a dead job
-- with DeadRetention at 1 min as soon as it died, 10 min ahead), or kept them longer when it was behind.
WITH old AS (
    SELECT j.id FROM {{schema}}.jobs j
    WHERE j.state = @state AND j.finished_at < (SELECT clock_timestamp() - @retention)
    ORDER BY j.finished_at
    LIMIT @limit
    FOR UPDATE SKIP LOCKED
)
DELETE FROM {{schema}}.jobs j USING old WHERE j.id = old.id
