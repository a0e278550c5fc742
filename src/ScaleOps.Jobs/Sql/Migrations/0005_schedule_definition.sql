-- Recurring schedules keep the definition their timetable comes from: the cron expression (as Cronos writes it back, so
-- equal timetables spelled differently compare equal) and the time zone id (IANA when known). Two hosts running one
-- schedule name under different definitions (a rolling deploy that changes the cron) each fired at their own due times,
-- so the job ran on both timetables. Now the most recently started host writes its definition at start, and a host
-- whose definition differs from the stored one does not fire (CronScheduler). defined_at is when the stored definition
-- was first written by a starting host.
-- Rows written before this migration have no definition (NULL): the first host to start adopts its own and keeps the
-- row's last due time, as for an unchanged schedule. Adding nullable columns without a default rewrites nothing.
ALTER TABLE {{schema}}.job_schedules
    ADD COLUMN cron       text        NULL,
    ADD COLUMN time_zone  text        NULL,
    ADD COLUMN defined_at timestamptz NULL,
    ADD CONSTRAINT job_schedules_definition CHECK ((cron IS NULL) = (time_zone IS NULL) AND (cron IS NULL) = (defined_at IS NULL));
