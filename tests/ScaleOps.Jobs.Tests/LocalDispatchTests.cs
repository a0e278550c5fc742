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
public partial class LocalDispatchTests(JobsDatabase database) : IClassFixture<JobsDatabase>
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

    [Fact]
    public async Task A_job_enqueued_on_a_host_that_runs_its_queue_starts_there_without_a_notification_or_a_fetch()
    {
        await using var host = await StartAsync("ld-basic");
        var producer = await host.SettledProducerAsync("ld-basic");
        var fetches = producer.Fetches;

        var id = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
        await UntilStateAsync(id, "succeeded");

        Assert.True(await StartedByItsInsertAsync(id), "the job was started by a fetch, not by its insert");
        Assert.Equal(1, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
        // Its lease id is random, at least 2^32: it names this insert's lease alone (see the unstart tests below).
        Assert.True(await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {id}") >= 1L << 32);
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
            await host.SettledProducerAsync("ld-lease");
            id = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
            await running.Task.WaitAsync("the job to start");
            Assert.True(await StartedByItsInsertAsync(id));
            Assert.Equal("running", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
            // Leased like a fetched job: for LeaseDuration (the default, 30 s) from its start, renewed by heartbeats.
            Assert.True(await database.ScalarAsync<bool>(
                $"SELECT lease_until >= created_at + interval '30 seconds' FROM scaleops.jobs WHERE id = {id}"));
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
        await host.SettledProducerAsync("ld-flow");

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
        await host.SettledProducerAsync("ld-order");

        using var release = new ReleaseOnDispose(hold);

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
        hold.TrySetResult();
    }

    [Fact]
    public async Task A_duplicate_gives_back_the_slot_it_reserved()
    {
        var hold = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 1 ? hold.Task : Task.CompletedTask };
        await using var host = await StartAsync("ld-dup", new QueueOptions { Concurrency = 2 }, probe);
        await host.SettledProducerAsync("ld-dup");

        using var release = new ReleaseOnDispose(hold);
        var first = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { UniqueKey = "k" });
        await TestSignal.UntilAsync(() => Task.FromResult(host.Probe.Count == 1), "job 1 to start");
        Assert.Null(await host.Client.EnqueueAsync(new Ping(1), new JobOptions { UniqueKey = "k" }));

        // One slot is still free: another job runs while job 1 holds the other.
        var other = (await host.Client.EnqueueAsync(new Ping(2)))!.Value;
        await UntilStateAsync(other, "succeeded");
        Assert.True(await StartedByItsInsertAsync(other));
        hold.TrySetResult();
        await UntilStateAsync(first!.Value, "succeeded");
    }

    [Fact]
    public async Task A_job_of_a_kind_this_host_has_no_handler_for_goes_in_pending_for_a_host_that_has_one()
    {
        await using var host = await StartAsync("ld-kind");
        await host.SettledProducerAsync("ld-kind");

        var id = (await host.Client.EnqueueAsync(new Other(1), new JobOptions { MaxAttempts = 1 }))!.Value;
        await UntilStateAsync(id, "dead");
        Assert.False(await StartedByItsInsertAsync(id), "a job no handler here can run was started by its insert");
        Assert.Contains("No handler for job kind 'test.other'", await database.ScalarAsync<string>($"SELECT last_error FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task A_given_back_slot_never_starts_buffered_jobs_in_the_enqueuing_callers_context()
    {
        // The slot a pending insert gives back may start jobs a fetch buffered meanwhile: they must not run on the caller.
        string?[] seenState = [null, "not run", "not run", "not run"];
        var probe = new Probe
        {
            Behavior = (p, _, _) =>
            {
                if (p.N is >= 1 and <= 3)
                {
                    seenState[p.N] = CallerState.Value;
                }

                return Task.CompletedTask;
            },
        };
        await using var host = await StartAsync("ld-giveback", new QueueOptions { Concurrency = 1, LocalBuffer = 10 }, probe);
        var producer = await host.SettledProducerAsync("ld-giveback");

        // The only slot is reserved, as an enqueue reserves it before its started insert. (Driven directly: an enqueue
        // holds its reservation for one round trip, or 100 ms when it waits for a lock, too short to stage the rest.)
        Assert.True(producer.TryReserve());
        for (var n = 1; n <= 3; n++)
        {
            await database.ExecuteAsync(
                "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at) "
                + $"VALUES ('ld-giveback', 'test.ping', '{{\"n\": {n}}}', now() - interval '1 minute', 5, now())");
        }

        // A fetch buffers the three waiting jobs: the reserved slot is the only one, so none can start yet.
        producer.Wake();
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'ld-giveback' AND state = 'running'") == 3,
            "the fetch to take the three waiting jobs");
        Assert.Equal(0, host.Probe.Count);

        // The enqueue gives its slot back from the caller's own context (its insert found a duplicate, timed out on a
        // lock or failed): the buffered jobs may start now, but not there.
        var tenants = host.Services.GetRequiredService<ITenantContext>();
        using (tenants.BeginScope(new TenantId("t1")))
        {
            CallerState.Value = "the caller's request state";
            producer.Unreserve();
            CallerState.Value = null;
        }

        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'ld-giveback' AND state = 'succeeded'") == 3,
            "the three buffered jobs to run");
        var byN = host.Probe.Seen.ToDictionary(x => x.N);
        for (var n = 1; n <= 3; n++)
        {
            Assert.Null(byN[n].AmbientTenant);
            Assert.Null(seenState[n]);
        }
    }

    [Fact]
    public async Task Nothing_is_reserved_while_a_fetch_is_in_flight()
    {
        // A fetch in flight may already have started older jobs for the free slots; a job inserted started now would
        // run ahead of them. The test holds the fetch's advisory lock so that a fetch stays in flight.
        await using var host = await StartAsync("ld-inflight", new QueueOptions { Concurrency = 1 });
        var producer = await host.SettledProducerAsync("ld-inflight");
        var fetches = producer.Fetches;

        await using var blocker = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", blocker, transaction))
        {
            hold.Parameters.AddWithValue("key", ScaleOps.Data.AdvisoryLock.KeyOf("scaleops:jobs:fetch:scaleops:ld-inflight"));
            await hold.ExecuteNonQueryAsync();
        }

        producer.Wake();
        await TestSignal.UntilAsync(
            async () => producer.Fetches > fetches
                        && await database.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0,
            "the fetch to wait on the held lock");
        Assert.False(producer.TryReserve(), "a slot was reserved while a fetch was in flight");

        await transaction.RollbackAsync();
        await TestSignal.UntilAsync(() => Task.FromResult(producer.TryReserve()), "a slot to be reservable once the fetch is over");
        producer.Unreserve();
    }

    [Fact]
    public async Task An_enqueue_waiting_on_an_equal_unique_key_holds_no_slot()
    {
        // An open transaction holds unique key K. The enqueue of K waits for it, but not in a reserved slot: its started
        // insert gives up the lock wait after 100 ms and the job goes in the ordinary way. The only slot stays free.
        await using var host = await StartAsync("ld-uwait", new QueueOptions { Concurrency = 1 });
        await host.SettledProducerAsync("ld-uwait");
        await using var blocker = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at, unique_key) "
            + "VALUES ('ld-uwait', 'test.ping', '{\"n\": 9}', now(), 5, now(), 'K')", blocker, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        var waiting = host.Client.EnqueueAsync(new Ping(1), new JobOptions { UniqueKey = "K" });
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0,
            "the enqueue to wait on the held unique key");

        var other = (await host.Client.EnqueueAsync(new Ping(2)))!.Value;
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {other}") == "succeeded",
            "another job to run in the only slot while the first enqueue waits");
        Assert.False(waiting.IsCompleted);

        await transaction.RollbackAsync();
        var id = (await waiting.WaitAsync("the waiting enqueue to finish"))!.Value;
        await UntilStateAsync(id, "succeeded");
    }

    [Fact]
    public async Task A_job_enqueued_inside_a_TransactionScope_that_rolls_back_never_runs()
    {
        // The pooled connection enlists in the ambient transaction: a job started by its insert ran before the scope's
        // outcome was known, so a rolled-back job ran all the same.
        await using var host = await StartAsync("ld-scope-rollback");
        await host.SettledProducerAsync("ld-scope-rollback");
        long? id;
        using (new System.Transactions.TransactionScope(System.Transactions.TransactionScopeAsyncFlowOption.Enabled))
        {
            id = await host.Client.EnqueueAsync(new Ping(1));
            Assert.NotNull(id);
        }

        // A later job of the queue, outside any scope, runs; a rolled-back job started locally would have run by then.
        var marker = (await host.Client.EnqueueAsync(new Ping(2)))!.Value;
        await UntilStateAsync(marker, "succeeded");
        Assert.Equal(0L, await database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.jobs WHERE id = {id}"));
        Assert.DoesNotContain(host.Probe.Seen, s => s.N == 1);
    }

    [Fact]
    public async Task A_job_enqueued_inside_a_TransactionScope_runs_once_after_the_scope_commits()
    {
        // A job started by its insert ran (and its completion, on another connection, could not see the row) while the
        // scope was still open; once the scope committed, the row was still running and the job ran again.
        await using var host = await StartAsync("ld-scope-commit");
        await host.SettledProducerAsync("ld-scope-commit");
        long id;
        using (var scope = new System.Transactions.TransactionScope(System.Transactions.TransactionScopeAsyncFlowOption.Enabled))
        {
            id = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;

            // While the scope is open, a job enqueued outside it runs; the scope's job has not.
            using (new System.Transactions.TransactionScope(
                System.Transactions.TransactionScopeOption.Suppress, System.Transactions.TransactionScopeAsyncFlowOption.Enabled))
            {
                var marker = (await host.Client.EnqueueAsync(new Ping(2)))!.Value;
                await UntilStateAsync(marker, "succeeded");
            }

            Assert.DoesNotContain(host.Probe.Seen, s => s.JobId == id);
            scope.Complete();
        }

        await UntilStateAsync(id, "succeeded");
        Assert.Equal(1, Assert.Single(host.Probe.Seen, s => s.JobId == id).Attempt);
        Assert.Equal(1, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
    }
}
