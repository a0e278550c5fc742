-- Completes a batch of successful jobs by deleting them (succeeded-job retention of zero), guarded like JobSucceedMany.
DELETE FROM {{schema}}.jobs j
USING unnest(@ids, @attempts) AS d(id, attempt)
WHERE j.id = d.id AND j.attempt = d.attempt AND j.state = 'running'
