using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Tests;

public class FairnessTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private async Task EnqueueAsync(string queue, string tenant, int count, int offset = 0, JobOptions? extra = null)
    {
        await using var client = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);
        await client.Client.EnqueueManyAsync(
            Enumerable.Range(offset, count).Select(i => new Ping(i, tenant)).ToList(),
            new JobOptions
            {
                Queue = queue, Tenant = new TenantId(tenant), ConcurrencyKey = extra?.ConcurrencyKey, ConcurrencyLimit = extra?.ConcurrencyLimit,
            });
    }

    private Task<long> CountAsync(string queue, string tenant, string state) => database.ScalarAsync<long>(
        $"SELECT count(*) FROM scaleops.jobs WHERE queue = '{queue}' AND tenant_id = '{tenant}' AND state = '{state}'");

    [Fact]
    public async Task A_small_tenant_finishes_while_a_big_backlog_is_still_draining()
    {
        // The big tenant's 3,000 jobs are all older than the small tenant's 10: FIFO would run the small ones last.
        await EnqueueAsync("fair", "big", 3000);
        await EnqueueAsync("fair", "small", 10);
        var probe = new Probe { Behavior = (_, _, token) => Task.Delay(2, token) };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "fair";
            o.Queues["fair"] = new QueueOptions { Concurrency = 4 };
        }, probe: probe);

        await TestSignal.UntilAsync(async () => await CountAsync("fair", "small", "succeeded") == 10, "the small tenant's 10 jobs to finish");
        var bigLeft = await CountAsync("fair", "big", "pending");
        Assert.True(bigLeft > 2000, $"the big backlog should still be draining, but only {bigLeft} of 3,000 big jobs are pending");

        // Round robin: while both had work, the small tenant got about every other slot.
        var order = probe.Seen.Select(s => s.ContextTenant).ToList();
        var lastSmall = order.LastIndexOf("small");
        Assert.True(lastSmall < 40, $"the small tenant's last job started as number {lastSmall + 1}");
    }

    [Fact]
    public async Task A_tenant_cap_limits_running_jobs_per_tenant_and_leaves_room_for_others()
    {
        await EnqueueAsync("capped", "t1", 40);
        await EnqueueAsync("capped", "t2", 40);
        var running = new ConcurrentDictionary<string, int>();
        var max = new ConcurrentDictionary<string, int>();
        var probe = new Probe
        {
            Behavior = async (p, c, token) =>
            {
                var now = running.AddOrUpdate(p.Tag!, 1, (_, v) => v + 1);
                max.AddOrUpdate(p.Tag!, now, (_, v) => Math.Max(v, now));
                await Task.Delay(5, token);
                running.AddOrUpdate(p.Tag!, 0, (_, v) => v - 1);
            },
        };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "capped";
            o.Queues["capped"] = new QueueOptions { Concurrency = 10, MaxRunningPerTenant = 2 };
        }, probe: probe);

        await TestSignal.UntilAsync(
            async () => await CountAsync("capped", "t1", "succeeded") + await CountAsync("capped", "t2", "succeeded") == 80, "all 80 jobs to finish");
        Assert.Equal(2, max["t1"]);
        Assert.Equal(2, max["t2"]);
    }

    [Fact]
    public async Task At_most_the_limit_of_jobs_with_one_concurrency_key_run_at_once()
    {
        await EnqueueAsync("keyed", "k", 20, extra: new JobOptions { ConcurrencyKey = "webhook:a.example", ConcurrencyLimit = 2 });
        await EnqueueAsync("keyed", "k", 20, 100, new JobOptions { ConcurrencyKey = "webhook:b.example", ConcurrencyLimit = 1 });
        await EnqueueAsync("keyed", "k", 20, 200);
        var running = new ConcurrentDictionary<string, int>();
        var max = new ConcurrentDictionary<string, int>();
        var probe = new Probe
        {
            Behavior = async (p, c, token) =>
            {
                var key = p.N switch { < 100 => "a", < 200 => "b", _ => "none" };
                var now = running.AddOrUpdate(key, 1, (_, v) => v + 1);
                max.AddOrUpdate(key, now, (_, v) => Math.Max(v, now));
                await Task.Delay(5, token);
                running.AddOrUpdate(key, 0, (_, v) => v - 1);
            },
        };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "keyed";
            o.Queues["keyed"] = new QueueOptions { Concurrency = 8 };
        }, probe: probe);

        await TestSignal.UntilAsync(async () => await CountAsync("keyed", "k", "succeeded") == 60, "all 60 jobs to finish");
        Assert.Equal(2, max["a"]);
        Assert.Equal(1, max["b"]);
        Assert.True(max["none"] > 2, $"unkeyed jobs use the free slots (at most {max["none"]} ran at once)");
    }

    [Fact]
    public async Task With_more_tenants_than_slots_successive_fetches_rotate_through_every_tenant()
    {
        // 30 tenants with 20 jobs each, enqueued tenant after tenant; 3 slots. FIFO would reach the last tenant after 580 jobs.
        for (var t = 0; t < 30; t++)
        {
            await EnqueueAsync("rotate", $"t{t:D2}", 20);
        }

        var probe = new Probe { Behavior = (_, _, token) => Task.Delay(1, token) };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "rotate";
            o.Queues["rotate"] = new QueueOptions { Concurrency = 3 };
        }, probe: probe);

        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>(
                "SELECT count(DISTINCT tenant_id) FROM scaleops.jobs WHERE queue = 'rotate' AND state = 'succeeded'") == 30,
            "every tenant to have a finished job");
        var done = await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'rotate' AND state = 'succeeded'");
        Assert.True(done < 120, $"every tenant was served within the first {done} of 600 jobs; rotation should need about 30");
    }
}
