using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Tests;

/// <summary>Documented guarantees taken together, end to end on a real host and database.</summary>
public class CombinationTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private Task<string> StateAsync(long id) => database.ScalarAsync<string>($"SELECT state || ' ' || attempt FROM scaleops.jobs WHERE id = {id}");

    [Fact]
    public async Task A_job_waiting_for_its_retry_keeps_its_unique_key_and_the_key_is_free_again_once_it_is_dead()
    {
        var probe = new Probe { Behavior = (_, c, _) => throw new InvalidOperationException($"fails ({c.Attempt})") };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "combo-retry-key";
            o.RetryBaseDelay = TimeSpan.FromHours(1);
            o.RetryMaxDelay = TimeSpan.FromHours(1);
        }, probe: probe);
        var keyed = new JobOptions { UniqueKey = "report:42", MaxAttempts = 2 };
        var id = (await host.Client.EnqueueAsync(new Ping(1), keyed))!.Value;
        await TestSignal.UntilAsync(async () => await StateAsync(id) == "pending 1", "the first attempt to fail and wait for its retry");

        // Pending for its retry: an equal job is a duplicate.
        Assert.Null(await host.Client.EnqueueAsync(new Ping(2), keyed));
        Assert.Equal(0, await host.Client.EnqueueManyAsync([new Ping(3)], keyed));

        await database.ExecuteAsync($"UPDATE scaleops.jobs SET run_at = now() - interval '1 second' WHERE id = {id}");
        await TestSignal.UntilAsync(async () => await StateAsync(id) == "dead 2", "the retry to fail and the job to die");

        // Dead: the key is free, and the dead job cannot be retried while the new one holds it.
        var again = await host.Client.EnqueueAsync(new Ping(4), keyed);
        Assert.NotNull(again);
        await Assert.ThrowsAsync<InvalidOperationException>(() => host.Admin.RetryDeadAsync(id));
    }

    [Fact]
    public async Task A_concurrency_key_and_a_tenant_cap_both_hold_and_leave_the_free_slots_to_other_work()
    {
        // Three tenants, a cap of 2 each, and one key with a limit of 3 shared by all of them: each tenant's first jobs
        // carry the key. Six jobs can run (the caps), only three of them keyed (the key), so the tenants' unkeyed jobs
        // take the other three slots.
        var gate = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, _) => gate.Task };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "combo-key-cap";
            o.Queues["combo-key-cap"] = new QueueOptions { Concurrency = 10, MaxRunningPerTenant = 2 };
        }, probe: probe);
        foreach (var tenant in new[] { "t1", "t2", "t3" })
        {
            var t = new TenantId(tenant);
            await host.Client.EnqueueManyAsync(
                [new Ping(1, tenant), new Ping(2, tenant)], new JobOptions { Tenant = t, ConcurrencyKey = "webhook:a", ConcurrencyLimit = 3 });
            await host.Client.EnqueueManyAsync([new Ping(3, tenant), new Ping(4, tenant)], new JobOptions { Tenant = t, Priority = JobPriority.Low });
        }

        try
        {
            await TestSignal.UntilAsync(async () => await database.ScalarAsync<long>(
                "SELECT count(*) FROM scaleops.jobs WHERE queue = 'combo-key-cap' AND state = 'running'") == 6, "six jobs to run");
            Assert.Equal(3L, await database.ScalarAsync<long>(
                "SELECT count(*) FROM scaleops.jobs WHERE queue = 'combo-key-cap' AND state = 'running' AND concurrency_key IS NOT NULL"));
            Assert.Equal(2L, await database.ScalarAsync<long>(
                "SELECT max(n) FROM (SELECT count(*) AS n FROM scaleops.jobs WHERE queue = 'combo-key-cap' AND state = 'running' GROUP BY tenant_id) c"));
        }
        finally
        {
            gate.TrySetResult();
        }

        await TestSignal.UntilAsync(async () => await database.ScalarAsync<long>(
            "SELECT count(*) FROM scaleops.jobs WHERE queue = 'combo-key-cap' AND state = 'succeeded'") == 12, "every job to run");
        Assert.Equal(6, probe.MaxRunning);
    }
}
