using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Local dispatch (<see cref="QueueOptions.LocalDispatch"/>): a job enqueued on a host that runs its queue, with a free
/// slot and nothing due waiting, goes in started and runs there without a NOTIFY and a fetch. A job started by the insert
/// has <c>attempted_at = created_at</c> (both the insert's clock reading); a fetched one is started by a later statement.
/// </summary>
public class LocalDispatchTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private static readonly AsyncLocal<string?> CallerState = new();

    private Task<JobsHost> StartAsync(string queue, QueueOptions? queueOptions = null, Probe? probe = null) =>
        JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.PollInterval = TimeSpan.FromHours(1);
            o.Queues[queue] = queueOptions ?? new QueueOptions { Concurrency = 2 };
        }, probe: probe);

    private Task UntilStateAsync(long id, string state) => TestSignal.UntilAsync(
        async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == state, $"job {id} to be {state}");

    private Task<bool> StartedByItsInsertAsync(long id) =>
        database.ScalarAsync<bool>($"SELECT attempted_at = created_at FROM scaleops.jobs WHERE id = {id}");

    /// <summary>Waits until the producer's start-up fetch is over and it sleeps (nothing else wakes it: no poll for an hour).</summary>
    private static async Task<QueueProducer> SettledProducerAsync(JobsHost host, string queue)
    {
        var producer = host.Services.GetRequiredService<JobWorker>().Producer(queue)!;
        await TestSignal.UntilAsync(async () =>
        {
            var before = producer.Fetches;
            await Task.Delay(100);
            return before > 0 && producer.Fetches == before;
        }, $"the {queue} producer to settle");
        return producer;
    }

    [Fact]
    public async Task A_job_enqueued_on_a_host_that_runs_its_queue_starts_there_without_a_notification_or_a_fetch()
    {
        await using var host = await StartAsync("ld-basic");
        var producer = await SettledProducerAsync(host, "ld-basic");
        var fetches = producer.Fetches;

        var id = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
        await UntilStateAsync(id, "succeeded");

        Assert.True(await StartedByItsInsertAsync(id), "the job was started by a fetch, not by its insert");
        Assert.Equal(1, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(1, Assert.Single(host.Probe.Seen).Attempt);
        Assert.Equal(fetches, producer.Fetches);
    }

    [Fact]
    public async Task A_locally_started_job_holds_a_lease_like_a_fetched_one_and_is_given_back_at_shutdown()
    {
        var running = new TaskCompletionSource();
        var probe = new Probe
        {
            Behavior = async (_, _, token) =>
            {
                running.TrySetResult();
                await Task.Delay(Timeout.Infinite, token);
            },
        };
        long id;
        await using (var host = await StartAsync("ld-lease", probe: probe))
        {
            await SettledProducerAsync(host, "ld-lease");
            id = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
            await running.Task.WaitAsync("the job to start");
            Assert.True(await StartedByItsInsertAsync(id));
            Assert.Equal("running", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
            Assert.True(await database.ScalarAsync<bool>($"SELECT lease_until > created_at FROM scaleops.jobs WHERE id = {id}"));
        }

        // Stopped while it ran: the worker gave it back, pending again with its attempt uncounted.
        Assert.Equal("pending", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(0, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task A_locally_started_job_does_not_run_in_the_enqueuing_callers_async_context()
    {
        string? seen = "not run";
        var probe = new Probe { Behavior = (_, _, _) => { seen = CallerState.Value; return Task.CompletedTask; } };
        await using var host = await StartAsync("ld-flow", probe: probe);
        await SettledProducerAsync(host, "ld-flow");

        CallerState.Value = "the caller's request state";
        var id = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
        CallerState.Value = null;
        await UntilStateAsync(id, "succeeded");

        Assert.True(await StartedByItsInsertAsync(id));
        Assert.Null(seen);
    }

    [Fact]
    public async Task Due_jobs_already_waiting_start_before_a_new_one_which_goes_in_pending()
    {
        var hold = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 1 ? hold.Task : Task.CompletedTask };
        await using var host = await StartAsync("ld-order", new QueueOptions { Concurrency = 2 }, probe);
        await SettledProducerAsync(host, "ld-order");

        // Job 1 holds one slot. Job 2 waits, due, unseen by the worker (inserted without a notification).
        var first = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
        await TestSignal.UntilAsync(() => Task.FromResult(host.Probe.Count == 1), "job 1 to start");
        var waiting = await database.ScalarAsync<long>(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at) "
            + "VALUES ('ld-order', 'test.ping', '{\"n\": 2}', now() - interval '1 second', 5, now()) RETURNING id");

        // Job 3 finds a free slot but a due job waiting: it goes in pending, and job 2 starts first.
        var third = (await host.Client.EnqueueAsync(new Ping(3)))!.Value;
        await UntilStateAsync(waiting, "succeeded");
        await UntilStateAsync(third, "succeeded");

        Assert.Equal([1, 2, 3], host.Probe.Seen.Select(s => s.N));
        Assert.True(await StartedByItsInsertAsync(first));
        Assert.False(await StartedByItsInsertAsync(third), "job 3 was started by its insert ahead of the waiting job 2");
        hold.SetResult();
    }

    [Fact]
    public async Task A_duplicate_gives_back_the_slot_it_reserved()
    {
        var hold = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 1 ? hold.Task : Task.CompletedTask };
        await using var host = await StartAsync("ld-dup", new QueueOptions { Concurrency = 2 }, probe);
        await SettledProducerAsync(host, "ld-dup");

        var first = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { UniqueKey = "k" });
        await TestSignal.UntilAsync(() => Task.FromResult(host.Probe.Count == 1), "job 1 to start");
        Assert.Null(await host.Client.EnqueueAsync(new Ping(1), new JobOptions { UniqueKey = "k" }));

        // One slot is still free: another job runs while job 1 holds the other.
        var other = (await host.Client.EnqueueAsync(new Ping(2)))!.Value;
        await UntilStateAsync(other, "succeeded");
        Assert.True(await StartedByItsInsertAsync(other));
        hold.SetResult();
        await UntilStateAsync(first!.Value, "succeeded");
    }

    [Fact]
    public async Task A_job_of_a_kind_this_host_has_no_handler_for_goes_in_pending_for_a_host_that_has_one()
    {
        await using var host = await StartAsync("ld-kind");
        await SettledProducerAsync(host, "ld-kind");

        var id = (await host.Client.EnqueueAsync(new Other(1), new JobOptions { MaxAttempts = 1 }))!.Value;
        await UntilStateAsync(id, "dead");
        Assert.False(await StartedByItsInsertAsync(id), "a job no handler here can run was started by its insert");
        Assert.Contains("No handler for job kind 'test.other'", await database.ScalarAsync<string>($"SELECT last_error FROM scaleops.jobs WHERE id = {id}"));
    }

    public static TheoryData<string> FetchedCases => ["switched off", "tenant cap", "concurrency key", "caller's transaction", "no free slot"];

    [Theory]
    [MemberData(nameof(FetchedCases))]
    public async Task Otherwise_a_job_goes_in_pending_and_is_fetched(string @case)
    {
        var queue = "ld-fetch-" + @case.Replace(' ', '-').Replace("'", "", StringComparison.Ordinal);
        var hold = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 0 ? hold.Task : Task.CompletedTask };
        var queueOptions = @case switch
        {
            "switched off" => new QueueOptions { LocalDispatch = false },
            "tenant cap" => new QueueOptions { MaxRunningPerTenant = 5 },
            "no free slot" => new QueueOptions { Concurrency = 1 },
            _ => new QueueOptions(),
        };
        await using var host = await StartAsync(queue, queueOptions, probe);
        var producer = await SettledProducerAsync(host, queue);
        if (@case == "no free slot")
        {
            await host.Client.EnqueueAsync(new Ping(0));
            await TestSignal.UntilAsync(() => Task.FromResult(host.Probe.Count == 1), "the job holding the only slot to start");
        }

        var fetches = producer.Fetches;
        long id;
        if (@case == "caller's transaction")
        {
            await using var connection = await database.DataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            id = (await host.Client.EnqueueAsync(connection, transaction, new Ping(1), null, default))!.Value;
            await transaction.CommitAsync();
        }
        else
        {
            var options = @case == "concurrency key" ? new JobOptions { ConcurrencyKey = "host-a", ConcurrencyLimit = 3 } : null;
            id = (await host.Client.EnqueueAsync(new Ping(1), options))!.Value;
        }

        hold.SetResult();
        await UntilStateAsync(id, "succeeded");
        Assert.False(await StartedByItsInsertAsync(id), $"{@case}: the job was started by its insert");
        Assert.True(producer.Fetches > fetches);
    }
}
