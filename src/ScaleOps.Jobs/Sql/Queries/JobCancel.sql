-- Admin: cancels a job that has not started yet. finished_at is the database's clock, as for every finished job.
UPDATE {{schema}}.jobs SET state = 'cancelled', finished_at = clock_timestamp() WHERE id = @id AND state = 'pending'
