-- Runs first in every batch that acts on running jobs by (id, lease): complete, fail, heartbeat, release. For the rest
-- of that transaction only, it turns nested loops off. Those statements join the batch's ids with the jobs table, and a
-- queue's statistics are often out of step with the table (taken while no job ran, or while it was nearly empty): with
-- them, the planner chose a nested loop that scanned every running job, or the whole table, once per id (0.6-9 s for a
-- batch of 2,000; found by the benchmark). Without nested loops the join is hashed or merged, one pass over each side,
-- whatever the statistics say, and the running jobs can still be read through jobs_running.
SELECT set_config('enable_nestloop', 'off', true)
