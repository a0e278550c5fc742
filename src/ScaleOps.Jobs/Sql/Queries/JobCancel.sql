-- Admin: cancels a job that has not started yet.
UPDATE {{schema}}.jobs SET state = 'cancelled', finished_at = @now WHERE id = @id AND state = 'pending'
