using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Internal;
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

    /// <summary>A probe whose jobs of tenant "a" run until <paramref name="gate"/> completes; the others finish at once.</summary>
    private static Probe HoldTenantA(TaskCompletionSource gate) =>
        new() { Behavior = (p, _, token) => p.Tag == "a" ? gate.Task.WaitAsync(token) : Task.CompletedTask };

    private Task<long> CountAsync(string queue, string tenant, string state) => database.ScalarAsync<long>(
        $"SELECT count(*) FROM scaleops.jobs WHERE queue = '{queue}' AND tenant_id = '{tenant}' AND state = '{state}'");

    [Fact]
    public async Task A_small_tenant_finishes_while_a_big_backlog_is_still_draining()
    {
        // The big tenant's 100,000 jobs (the issue's figure, one binary COPY) are all older than the small tenant's 10:
        // FIFO would run the small ones last.
        await EnqueueAsync("fair", "big", 100_000);
        await EnqueueAsync("fair", "small", 10);
        var probe = new Probe { Behavior = (_, _, token) => Task.Delay(2, token) };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "fair";
            o.Queues["fair"] = new QueueOptions { Concurrency = 4 };
        }, probe: probe);

        await TestSignal.UntilAsync(async () => await CountAsync("fair", "small", "succeeded") == 10, "the small tenant's 10 jobs to finish");
        var bigLeft = await CountAsync("fair", "big", "pending");
        Assert.True(bigLeft > 99_000, $"the big backlog should still be draining, but only {bigLeft} of 100,000 big jobs are pending");

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
    public async Task A_tenant_cap_holds_across_two_hosts()
    {
        // Two hosts with five free slots each and a cap of 2: once two of the tenant's four jobs run, fetches on both
        // hosts must start nothing more of it (a cap counted per host would let each host start two).
        var gate = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, token) => gate.Task.WaitAsync(token) };
        void Configure(JobsOptions o)
        {
            o.DefaultQueue = "capped-2h";
            o.Queues["capped-2h"] = new QueueOptions { Concurrency = 5, MaxRunningPerTenant = 2 };
        }

        await using var first = await JobsHost.StartAsync(database.ConnectionString, Configure, probe: probe);
        await using var second = await JobsHost.StartAsync(database.ConnectionString, Configure, probe: probe);
        var producers = new[] { await first.SettledProducerAsync("capped-2h"), await second.SettledProducerAsync("capped-2h") };
        await EnqueueAsync("capped-2h", "t", 4);
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count >= 2), "two of the tenant's jobs to start");

        // Make both hosts fetch again, and wait for those fetches to end.
        foreach (var producer in producers)
        {
            var before = producer.Fetches;
            producer.Wake();
            await TestSignal.UntilAsync(() => Task.FromResult(producer.Fetches > before && !producer.IsFetching), "a woken fetch to end");
        }

        Assert.Equal(2L, await CountAsync("capped-2h", "t", "running"));
        Assert.Equal(2, probe.Count);

        gate.SetResult();
        await TestSignal.UntilAsync(async () => await CountAsync("capped-2h", "t", "succeeded") == 4, "the four jobs to finish");
        Assert.Equal(2, probe.MaxRunning);
    }

    [Fact]
    public async Task A_tenant_at_its_cap_leaves_the_free_slots_to_other_tenants()
    {
        // Concurrency 2, cap 1: while tenant a's first job holds a slot, a is at its cap and b must get the other slot
        // on every fetch. Polling is off, so progress comes from the fetches themselves and from written completions.
        await EnqueueAsync("cap-idle", "a", 3);
        await EnqueueAsync("cap-idle", "b", 20);
        var gate = new TaskCompletionSource();
        var probe = HoldTenantA(gate);
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "cap-idle";
            o.PollInterval = TimeSpan.FromHours(1);
            o.Queues["cap-idle"] = new QueueOptions { Concurrency = 2, MaxRunningPerTenant = 1 };
        }, probe: probe);

        await TestSignal.UntilAsync(async () => await CountAsync("cap-idle", "b", "succeeded") == 20, "all 20 jobs of b to finish while a's job holds its slot");
        Assert.Equal(1L, await CountAsync("cap-idle", "a", "running"));
        Assert.Equal(2L, await CountAsync("cap-idle", "a", "pending"));

        // Once a's job is done, its next ones start without waiting for the poll: the written completion frees the cap.
        gate.SetResult();
        await TestSignal.UntilAsync(async () => await CountAsync("cap-idle", "a", "succeeded") == 3, "a's three jobs to finish");
    }

    [Fact]
    public async Task Completions_in_another_queue_do_not_make_a_queue_with_a_capped_tenant_fetch_again()
    {
        // Tenant a holds its cap in "cap-reports" (its second job waits); "cap-email" completes jobs one batch at a
        // time. Caps are per queue, so none of those batches may wake the reports queue into another useless fetch.
        await EnqueueAsync("cap-reports", "a", 2);
        var gate = new TaskCompletionSource();
        var probe = HoldTenantA(gate);
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "cap-reports";
            o.PollInterval = TimeSpan.FromHours(1);
            o.Queues["cap-reports"] = new QueueOptions { Concurrency = 2, MaxRunningPerTenant = 1 };
            o.Queues["cap-email"] = new QueueOptions { Concurrency = 4 };
        }, probe: probe);
        await TestSignal.UntilAsync(async () => await CountAsync("cap-reports", "a", "running") == 1, "a's first job to hold its cap");
        // Settled: its last fetch passed over a (at its cap) and found nothing.
        var reports = await host.SettledProducerAsync("cap-reports");
        var fetches = reports.Fetches;

        for (var i = 0; i < 8; i++)
        {
            await host.Client.EnqueueAsync(new Ping(i, "e"), new JobOptions { Queue = "cap-email", Tenant = new TenantId("e") });
            var done = i + 1;
            await TestSignal.UntilAsync(async () => await CountAsync("cap-email", "e", "succeeded") == done, "the email job to complete");
        }

        Assert.True(reports.Fetches - fetches <= 1, $"8 completion batches of another queue made the reports queue fetch {reports.Fetches - fetches} times");

        // Its own completion still wakes it: a's second job starts without the poll.
        gate.SetResult();
        await TestSignal.UntilAsync(async () => await CountAsync("cap-reports", "a", "succeeded") == 2, "a's two jobs to finish");
    }

    [Fact]
    public async Task More_tenants_at_their_cap_than_one_fetch_looks_at_do_not_hide_a_tenant_with_work()
    {
        // 110 tenants at their cap (one gated job running, one waiting each) sort before tenant b: a fetch of the 10
        // free slots passes over at most 100 + 10 tenants, so b is found only if the next fetch goes on from where
        // the last one stopped (and is made at once, not at the next poll).
        await database.ExecuteAsync("""
            INSERT INTO scaleops.jobs (queue, kind, tenant_id, payload, run_at, max_attempts, created_at)
            SELECT 'cap-many', 'test.ping', 'a' || lpad(t::text, 3, '0'), json_build_object('n', i, 'tag', 'a'), now(), 5, now()
            FROM generate_series(0, 109) t, generate_series(1, 2) i
            """);
        await EnqueueAsync("cap-many", "b", 5);
        var gate = new TaskCompletionSource();
        var probe = HoldTenantA(gate);
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "cap-many";
            o.PollInterval = TimeSpan.FromHours(1);
            o.Queues["cap-many"] = new QueueOptions { Concurrency = 120, MaxRunningPerTenant = 1 };
        }, probe: probe);

        await TestSignal.UntilAsync(async () => await CountAsync("cap-many", "b", "succeeded") == 5, "all 5 jobs of b to finish behind 110 capped tenants");
        Assert.Equal(110L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'cap-many' AND state = 'running'"));

        gate.SetResult();
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'cap-many' AND state = 'succeeded'") == 225,
            "every job to finish");
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
    public async Task A_job_stored_with_a_concurrency_key_and_no_limit_runs_under_the_default_limit_of_one()
    {
        // The schema allows a key without a limit (a job inserted in SQL, by a trigger or another service); JobOptions
        // documents the limit as 1 when a key is set. The fetch compared the rank with NULL: such a job never ran.
        await database.ExecuteAsync("""
            INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at, concurrency_key)
            SELECT 'keyed-null', 'test.ping', json_build_object('n', n), now(), 3, now(), 'sql-key' FROM generate_series(1, 3) n
            """);
        var gate = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, token) => gate.Task.WaitAsync(token) };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "keyed-null";
            o.PollInterval = TimeSpan.FromMilliseconds(20);
            o.Queues["keyed-null"] = new QueueOptions { Concurrency = 3 };
        }, probe: probe);
        var producer = host.Services.GetRequiredService<JobWorker>().Producer("keyed-null")!;
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the first keyed job to start");

        // Five more fetches with free slots start none of the two others: the key runs one job at a time.
        var fetches = producer.Fetches;
        await TestSignal.UntilAsync(() => Task.FromResult(producer.Fetches >= fetches + 5), "five more fetches");
        Assert.Equal((1, 1L), (probe.Count, await CountAsync("keyed-null", "", "running")));

        gate.SetResult();
        await TestSignal.UntilAsync(async () => await CountAsync("keyed-null", "", "succeeded") == 3, "the three keyed jobs to run");
        Assert.Equal(1, probe.MaxRunning);
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

        // Judged on the order the jobs started in (the handler records it), not on a count read later while the worker
        // goes on: how many jobs had started when the last of the 30 tenants got its first one.
        await TestSignal.UntilAsync(
            () => Task.FromResult(probe.Seen.Select(x => x.ContextTenant).Distinct().Count() == 30), "every tenant to have a job started");
        var started = probe.Seen.ToArray();
        var done = Enumerable.Range(1, started.Length).First(n => started.Take(n).Select(x => x.ContextTenant).Distinct().Count() == 30);
        Assert.True(done < 120, $"every tenant was served within the first {done} of 600 jobs; rotation should need about 30");
    }

    [Fact]
    public async Task Jobs_without_a_tenant_take_their_turn_in_the_rotation_with_the_tenants()
    {
        // 30 tenants with 20 jobs each, then 20 jobs without a tenant (stored as tenant ''); 3 slots. The fetch's scan
        // starts at the first tenant ('' sorts first) or, after a partial round, goes on after its cursor and wraps round
        // to '' at the start: either way the tenantless jobs get a turn long before the 600 tenant jobs are done.
        for (var t = 0; t < 30; t++)
        {
            await EnqueueAsync("no-tenant", $"t{t:D2}", 20);
        }

        await using (var client = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false))
        {
            await client.Client.EnqueueManyAsync(Enumerable.Range(0, 20).Select(i => new Ping(i)).ToList(), new JobOptions { Queue = "no-tenant" });
        }

        Assert.Equal(20, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'no-tenant' AND tenant_id = ''"));
        var probe = new Probe { Behavior = (_, _, token) => Task.Delay(1, token) };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "no-tenant";
            o.Queues["no-tenant"] = new QueueOptions { Concurrency = 3 };
        }, probe: probe);

        await TestSignal.UntilAsync(
            () => Task.FromResult(probe.Seen.Count(x => x.ContextTenant is null) >= 2), "two jobs without a tenant to start");
        var started = probe.Seen.ToArray();
        var done = Enumerable.Range(1, started.Length).First(n => started.Take(n).Count(x => x.ContextTenant is null) == 2);
        Assert.True(done < 150, $"the jobs without a tenant got two turns only after {done} of 620 jobs; rotation over 31 should need about 62");
    }

    [Fact]
    public async Task A_tenant_job_is_not_starved_by_jobs_without_a_tenant_when_a_fetch_has_room_for_one()
    {
        // 30 jobs without a tenant (tenant ''), then one job of tenant "zz"; one slot, so each fetch looks at one tenant
        // and stops there. The next fetch must go on after '' (to "zz"), not start again from the first tenant, which is ''.
        await using (var client = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false))
        {
            await client.Client.EnqueueManyAsync(Enumerable.Range(0, 30).Select(i => new Ping(i)).ToList(), new JobOptions { Queue = "no-tenant-one" });
        }

        await EnqueueAsync("no-tenant-one", "zz", 1);
        var probe = new Probe();
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "no-tenant-one";
            o.Queues["no-tenant-one"] = new QueueOptions { Concurrency = 1, LocalDispatch = false };
        }, probe: probe);

        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count >= 31), "all 31 jobs to start");
        var order = probe.Seen.Select(s => s.ContextTenant ?? "-").ToList();
        var position = order.IndexOf("zz");
        Assert.True(position < 3, $"tenant zz's only job started as number {position + 1} of {order.Count}: {string.Join(",", order)}");

        // The rotation still comes back round to the jobs without a tenant: they all ran, and the first job after zz's is one.
        Assert.Equal(30, order.Count(t => t == "-"));
        Assert.Equal("-", order[position + 1]);
    }
}
