-- Admin: deletes one dead job. (All dead jobs of a queue are deleted in batches: JobDeadIds.sql, then JobDiscardDeadMany.sql.)
DELETE FROM {{schema}}.jobs j WHERE j.id = @id AND j.state = 'dead'
