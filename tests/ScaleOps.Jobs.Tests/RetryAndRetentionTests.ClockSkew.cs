using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>Retention between hosts whose clocks disagree: when a job finished and its cutoff are the database's clock.</summary>
public partial class RetryAndRetentionTests
{
    [Theory]
    [InlineData(0, 10)] // the retaining host's clock ahead: it deleted jobs as soon as they finished
    [InlineData(-10, 0)] // the finishing host's clock behind: the jobs it finished looked long finished to the others
    [InlineData(0, -10)] // the retaining host's clock behind: it kept jobs past their retention
    public async Task A_finished_job_is_kept_its_retention_on_the_database_clock_whatever_the_hosts_clocks_say(int workerSkew, int retainerSkew)
    {
        // finished_at was the finishing host's clock (success, failure, rescue, cancel) and the retainer deleted rows
        // with finished_at < its own clock minus the retention: with DeadRetention at its minimum of 1 min, a retainer
        // 10 min ahead of the worker deleted dead jobs (the record of what failed, kept to be read and retried) seconds
        // after they died.
        var queue = $"retain-skew-{workerSkew}-{retainerSkew}";
        var probe = new Probe { Behavior = (p, _, _) => p.N < 0 ? throw new InvalidOperationException("dies") : Task.CompletedTask };
        var jobs = new Dictionary<string, long>();
        await using (var worker = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.MaxAttempts = 1;
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
        }, probe: probe, services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromMinutes(workerSkew)))))
        {
            // Each way a job finishes: it succeeds, it fails its last attempt, its last attempt's lease expires (a job
            // inserted running in SQL, its lease gone a minute ago on the database's clock), it is cancelled.
            jobs["succeeded"] = (await worker.Client.EnqueueAsync(new Ping(1)))!.Value;
            jobs["failed"] = (await worker.Client.EnqueueAsync(new Ping(-1)))!.Value;
            jobs["rescued"] = await database.ScalarAsync<long>(
                "INSERT INTO scaleops.jobs (queue, kind, tenant_id, payload, priority, run_at, max_attempts, created_at, state, attempt, lease_id, lease_until) " +
                $"VALUES ('{queue}', 'test.ping', '', '{{\"N\":2}}', 2, now(), 1, now(), 'running', 1, 1, now() - interval '1 minute') RETURNING id");
            jobs["cancelled"] = (await worker.Client.EnqueueAsync(new Ping(3), new JobOptions { Delay = TimeSpan.FromDays(1) }))!.Value;
            Assert.True(await worker.Admin.CancelAsync(jobs["cancelled"]));
            await TestSignal.UntilAsync(
                async () => await database.ScalarAsync<long>(
                    $"SELECT count(*) FROM scaleops.jobs WHERE queue = '{queue}' AND state IN ('succeeded', 'dead', 'cancelled')") == 4,
                "the four jobs to finish");
        }

        // One job of each finished state that finished 2 min ago on the database's clock, past the retention: once the
        // retainer deleted all three, it has looked at the four jobs above as well.
        await database.ExecuteAsync(
            "INSERT INTO scaleops.jobs (queue, kind, tenant_id, payload, priority, run_at, max_attempts, created_at, state, attempt, finished_at) " +
            $"SELECT '{queue}-past', 'test.ping', '', '{{}}', 2, now(), 1, now(), s, 1, clock_timestamp() - interval '2 minutes' " +
            "FROM unnest(ARRAY['succeeded', 'dead', 'cancelled']) s");

        await using var retainer = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.SucceededRetention = TimeSpan.FromMinutes(1);
            o.DeadRetention = TimeSpan.FromMinutes(1);
            o.RetentionInterval = TimeSpan.FromSeconds(1);
        }, services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromMinutes(retainerSkew))));
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.jobs WHERE queue = '{queue}-past'") == 0,
            "retention to delete the jobs that finished 2 minutes ago on the database's clock");

        var kept = new List<string>();
        foreach (var (how, id) in jobs)
        {
            if (await ExistsAsync(id))
            {
                kept.Add(how);
            }
        }

        Assert.Equal(jobs.Keys.Order(), kept.Order());
    }
}
