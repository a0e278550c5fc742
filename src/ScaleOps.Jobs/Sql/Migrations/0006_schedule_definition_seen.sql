-- Hosts that fire a recurring schedule under its stored definition record that they are alive for it: each such host
-- writes definition_seen_at (its clock) when it starts, when it fires and every fifth of
-- JobsOptions.RecurringTakeoverAfter (at least once a minute). A host whose definition differs (quiet, CronScheduler) takes
-- the schedule over when the row has not changed for RecurringTakeoverAfter on its own clock: before, when the hosts with
-- the stored definition all stopped for good (a rollback that stops only the new hosts), the schedule never fired again
-- until a host with another definition started.
-- Rows written before this migration have NULL: no host takes them over until a host of a build with this migration
-- and the stored definition has written it (a quiet host takes over only when definition_seen_at >= defined_at, so a
-- definition written by a build without it is never taken over). Adding a nullable column without a default rewrites
-- nothing.
ALTER TABLE {{schema}}.job_schedules
    ADD COLUMN definition_seen_at timestamptz NULL;
