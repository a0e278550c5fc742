{{jobInfoColumns}}
FROM {{schema}}.jobs
WHERE id = @id
