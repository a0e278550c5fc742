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

public partial class LocalDispatchTests
{
    [Fact]
    public async Task A_job_whose_started_insert_commits_while_its_worker_stops_is_given_back_not_run()
    {
        // The started insert's commit waits for a synchronous standby (a private server) while the worker stops; it
        // completes during the drain. The worker starts nothing new once it stops fetching: the job is given back, for
        // another host, instead of being started here and cut short by the shutdown.
        await using var pg = await PrivatePostgres.StartAsync();
        var probe = new Probe();
        await using var host = await JobsHost.StartAsync(pg.ConnectionString, o =>
        {
            o.DefaultQueue = "ld-drain";
            o.PollInterval = TimeSpan.FromHours(1);
            o.ShutdownTimeout = TimeSpan.FromSeconds(20);
        }, probe: probe);
        var producer = await host.SettledProducerAsync("ld-drain");
        await using var stall = new CommitStall(pg, host);
        await stall.BeginAsync();
        var enqueue = host.Client.EnqueueAsync(new Ping(1));
        await stall.UntilStartedInsertWaitsAsync();

        var stop = host.Services.GetRequiredService<JobWorker>().StopAsync(default);
        await TestSignal.UntilAsync(() => Task.FromResult(producer.IsStopping), "the worker to stop fetching");
        await stall.EndAsync();
        var id = (await enqueue.WaitAsync("the enqueue to finish"))!.Value;
        await stop.WaitAsync("the worker to stop");

        Assert.Equal("pending", await stall.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(0, await stall.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
        Assert.Empty(probe.Seen);
    }

    [Fact]
    public async Task A_queue_with_many_pending_jobs_takes_the_pending_path_even_when_none_is_due()
    {
        await using var host = await StartAsync("ld-delayed");
        await host.SettledProducerAsync("ld-delayed");
        var later = new JobOptions { Delay = TimeSpan.FromHours(1) };
        var fewId = await host.Client.EnqueueAsync(new Ping(0), later);
        var few = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
        await UntilStateAsync(few, "succeeded");
        Assert.True(await StartedByItsInsertAsync(few), "with one delayed job the queue counts as idle");

        await host.Client.EnqueueManyAsync(Enumerable.Range(2, 40).Select(n => new Ping(n)).ToList(), later);
        var many = (await host.Client.EnqueueAsync(new Ping(100)))!.Value;
        await UntilStateAsync(many, "succeeded");
        Assert.False(await StartedByItsInsertAsync(many), "with 41 delayed jobs the check is bounded: the job goes in pending");
        Assert.NotNull(fewId);
    }

    [Fact]
    public async Task An_insert_whose_outcome_is_unknown_gives_its_started_row_back()
    {
        // The commit of the started insert waits for a synchronous standby that does not exist; its session is then
        // terminated: the job is committed locally, and the caller sees an error. On its only attempt, it must still run.
        await using var pg = await PrivatePostgres.StartAsync();
        var probe = new Probe();
        await using var host = await JobsHost.StartAsync(pg.ConnectionString, o =>
        {
            o.DefaultQueue = "ld-unknown";
            o.PollInterval = TimeSpan.FromHours(1);
            o.LeaseDuration = TimeSpan.FromSeconds(10); // the give-back must come first, even on a loaded machine
            o.RescueInterval = TimeSpan.FromMilliseconds(200);
        }, probe: probe);
        await host.SettledProducerAsync("ld-unknown");
        await using var stall = new CommitStall(pg, host);
        await stall.BeginAsync();
        var enqueue = host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 1 });
        await stall.UntilStartedInsertWaitsAsync();
        await stall.ScalarAsync<long>("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) " + CommitStall.StartedInsertWaiting + ") t");
        await Assert.ThrowsAnyAsync<Exception>(() => enqueue);
        await stall.EndAsync();

        // Given back at once (pending, attempt not counted), it runs; left to the rescuer, it would be dead unrun.
        await TestSignal.UntilAsync(
            async () => await stall.ScalarAsync<string>("SELECT state FROM scaleops.jobs WHERE kind = 'test.ping'") is "succeeded" or "dead",
            "the job to finish");
        Assert.Equal("succeeded", await stall.ScalarAsync<string>("SELECT state FROM scaleops.jobs WHERE kind = 'test.ping'"));
        Assert.Equal(1, Assert.Single(probe.Seen).N);
    }

    [Fact]
    public async Task Giving_back_a_failed_inserts_row_never_touches_another_running_job()
    {
        // Two enqueues of one kind and tenant in the same microsecond look alike but for their random lease ids: the
        // failed one's give-back must not hand back the other, which runs.
        var hold = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, _) => hold.Task };
        await using var host = await StartAsync("ld-sibling", probe: probe);
        using var release = new ReleaseOnDispose(hold);
        await host.SettledProducerAsync("ld-sibling");
        var id = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
        await TestSignal.UntilAsync(() => Task.FromResult(host.Probe.Count == 1), "the job to start");
        var leaseId = await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {id}");
        var createdAt = await database.ScalarAsync<DateTime>($"SELECT created_at FROM scaleops.jobs WHERE id = {id}");
        var store = host.Services.GetRequiredService<JobStore>();
        var values = new JobInsertValues("ld-sibling", "test.ping", "", 2, createdAt, 25, null, null, null, null);

        Assert.Equal(0, await store.JobUnstartAsync(values, new DateTimeOffset(createdAt, TimeSpan.Zero), leaseId + 1, default));
        Assert.Equal("running", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(1, await store.JobUnstartAsync(values, new DateTimeOffset(createdAt, TimeSpan.Zero), leaseId, default));

        // Given back: pending, or already fetched again under the next lease (the give-back wakes the worker).
        Assert.True(await database.ScalarAsync<bool>(
            $"SELECT state = 'pending' OR lease_id = {leaseId + 1} FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task A_started_row_that_commits_after_its_insert_failed_is_still_given_back()
    {
        // The commit of a started insert can become visible after its client gave up (a timeout while the commit waited
        // for a standby): the give-back tries again until the lease would expire.
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "ld-late-commit";
            o.PollInterval = TimeSpan.FromHours(1);
            o.RunWorker = false;
        });
        var client = (JobClient)host.Client;
        var now = new DateTimeOffset(DateTime.UtcNow.Ticks / 10 * 10, TimeSpan.Zero);
        var leaseId = Random.Shared.NextInt64(1L << 32, 1L << 62);
        var values = new JobInsertValues("ld-late-commit", "test.ping", "", 2, now, 25, null, null, null, null);
        var giveBack = client.UnstartAsync(values, now, now.AddSeconds(30), leaseId, "test");

        // The row commits only now, after the first try found nothing (pg_stat_statements, in the server's postgres
        // database, counts this database's tries).
        var dbid = await database.ScalarAsync<uint>("SELECT oid FROM pg_database WHERE datname = current_database()");
        var adminCs = new Npgsql.NpgsqlConnectionStringBuilder(database.ConnectionString) { Database = "postgres" }.ConnectionString;
        await using var admin = Npgsql.NpgsqlDataSource.Create(adminCs);
        await TestSignal.UntilAsync(async () =>
        {
            await using var tries = admin.CreateCommand(
                "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements "
                + "WHERE dbid = $1 AND query LIKE '%Local dispatch: the insert of a job meant to start on this host failed%'");
            tries.Parameters.AddWithValue(Convert.ToInt64(dbid));
            return (long)(await tries.ExecuteScalarAsync())! > 0;
        }, "the first give-back try");
        await using (var insert = database.DataSource.CreateCommand(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at, state, attempt, lease_id, attempted_at, lease_until) "
            + "VALUES ('ld-late-commit', 'test.ping', '{\"n\": 1}', $1, 25, $1, 'running', 1, $2, $1, $1 + interval '30 seconds') RETURNING id"))
        {
            insert.Parameters.AddWithValue(now);
            insert.Parameters.AddWithValue(leaseId);
            var id = (long)(await insert.ExecuteScalarAsync())!;
            await giveBack.WaitAsync("the give-back to find the row");
            Assert.Equal("pending", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
            Assert.Equal(0, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
        }
    }

    public static TheoryData<string> FetchedCases => [
        "switched off", "tenant cap", "concurrency key", "caller's transaction", "no free slot", "delayed", "batch",
    ];

    [Theory]
    [MemberData(nameof(FetchedCases))]
    public async Task Otherwise_a_job_goes_in_pending_and_is_fetched(string @case)
    {
        var queue = "ld-fetch-" + @case.Replace(' ', '-').Replace("'", "", StringComparison.Ordinal);
        var hold = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 0 ? hold.Task : Task.CompletedTask };
        using var release = new ReleaseOnDispose(hold);
        var queueOptions = @case switch
        {
            "switched off" => new QueueOptions { LocalDispatch = false },
            "tenant cap" => new QueueOptions { MaxRunningPerTenant = 5 },
            "no free slot" => new QueueOptions { Concurrency = 1 },
            _ => new QueueOptions(),
        };
        await using var host = await StartAsync(queue, queueOptions, probe);
        var producer = await host.SettledProducerAsync(queue);
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
        else if (@case == "batch")
        {
            Assert.Equal(1, await host.Client.EnqueueManyAsync([new Ping(1)]));
            id = await database.ScalarAsync<long>($"SELECT id FROM scaleops.jobs WHERE queue = '{queue}'");
        }
        else
        {
            var options = @case switch
            {
                "concurrency key" => new JobOptions { ConcurrencyKey = "host-a", ConcurrencyLimit = 3 },
                "delayed" => new JobOptions { Delay = TimeSpan.FromMilliseconds(100) }, // due before the poll: fetched, not started here
                _ => null,
            };
            id = (await host.Client.EnqueueAsync(new Ping(1), options))!.Value;
        }

        if (@case == "delayed")
        {
            // The poll is an hour: once the job is due, a notification (as another host's enqueue sends) wakes the fetch.
            Assert.Equal("pending", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
            await TestSignal.UntilAsync(
                () => database.ScalarAsync<bool>($"SELECT run_at <= now() FROM scaleops.jobs WHERE id = {id}"), "the delayed job to be due");
            await database.ExecuteAsync($"SELECT pg_notify('{JobsDefaults.Channel("scaleops")}', '{queue}')");
        }

        hold.TrySetResult();
        await UntilStateAsync(id, "succeeded");
        Assert.False(await StartedByItsInsertAsync(id), $"{@case}: the job was started by its insert");
        Assert.True(producer.Fetches > fetches);
    }

    /// <summary>Releases a held handler however the test ends, so a failed assertion does not stall the host's stop.</summary>
    private sealed class ReleaseOnDispose(TaskCompletionSource hold) : IDisposable
    {
        public void Dispose() => hold.TrySetResult();
    }

    /// <summary>
    /// Makes every commit on a private server wait for a synchronous standby that does not exist, so that a started
    /// insert's commit hangs until <see cref="EndAsync"/>; also runs the tests' statements on that server.
    /// </summary>
    private sealed class CommitStall(PrivatePostgres pg, JobsHost host) : IAsyncDisposable
    {
        public const string StartedInsertWaiting =
            "FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE '%One job from a host that can run it at once%'";

        private readonly Npgsql.NpgsqlDataSource _admin = Npgsql.NpgsqlDataSource.Create(pg.ConnectionString);

        public async Task BeginAsync()
        {
            await using (var command = _admin.CreateCommand("ALTER SYSTEM SET synchronous_standby_names = 'nosuch'"))
            {
                await command.ExecuteNonQueryAsync();
            }

            await ScalarAsync<bool>("SELECT pg_reload_conf()");

            // Pooled sessions read the new setting at their next command, maybe after the insert: start afresh.
            host.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().Clear();
        }

        public Task UntilStartedInsertWaitsAsync() => TestSignal.UntilAsync(
            async () => await ScalarAsync<long>("SELECT count(*) " + StartedInsertWaiting) > 0,
            "the started insert's commit to wait for the standby");

        public async Task EndAsync()
        {
            _admin.Clear(); // after a restart of the server its pooled sessions are gone
            await using (var command = _admin.CreateCommand("ALTER SYSTEM RESET synchronous_standby_names"))
            {
                await command.ExecuteNonQueryAsync();
            }

            await ScalarAsync<bool>("SELECT pg_reload_conf()");
        }

        public async Task<T> ScalarAsync<T>(string sql)
        {
            await using var command = _admin.CreateCommand(sql);
            return (T)(await command.ExecuteScalarAsync())!;
        }

        public ValueTask DisposeAsync() => _admin.DisposeAsync();
    }
}
