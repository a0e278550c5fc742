-- The lease token of a running job is (id, lease_id): every fetch moves lease_id forward and nothing moves it back.
-- The attempt number could not serve: releasing a job at shutdown uncounts its attempt and retrying a dead job resets
-- it, so an (id, attempt) pair was handed out again and a worker still running an old lease could renew, complete or
-- release the new one. Rows leased before this migration have 0 and are guarded by their workers' old code.
ALTER TABLE {{schema}}.jobs ADD COLUMN lease_id bigint NOT NULL DEFAULT 0;
