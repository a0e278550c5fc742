-- Admin, bulk discard: one batch. Deletes those of the batch's jobs that are still dead (another operator may have
-- retried or discarded some meanwhile; they are not counted).
DELETE FROM {{schema}}.jobs j WHERE j.id = ANY (@ids) AND j.state = 'dead'
