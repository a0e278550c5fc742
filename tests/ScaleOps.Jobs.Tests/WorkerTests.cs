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

[Collection(ThreadBlockingCollection.Name)]
public partial class WorkerTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private Task<JobsHost> StartAsync(string queue, Action<JobsOptions>? configure = null, Probe? probe = null) =>
        JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            configure?.Invoke(o);
        }, probe: probe);

    private Task UntilStateAsync(long id, string state) => TestSignal.UntilAsync(
        async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == state, $"job {id} to be {state}");

    private Task<string> ErrorOfAsync(long id) => database.ScalarAsync<string>($"SELECT last_error FROM scaleops.jobs WHERE id = {id}");

    [Fact]
    public async Task Each_job_runs_in_its_own_scope_with_its_tenant_as_the_ambient_tenant()
    {
        await using var host = await StartAsync("w-scope");
        var a = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Tenant = new TenantId("tenant-a") });
        var b = await host.Client.EnqueueAsync(new Ping(2));
        await UntilStateAsync(a!.Value, "succeeded");
        await UntilStateAsync(b!.Value, "succeeded");

        var seen = host.Probe.Seen.ToList();
        var seenA = Assert.Single(seen, s => s.JobId == a);
        var seenB = Assert.Single(seen, s => s.JobId == b);
        Assert.Equal("tenant-a", seenA.AmbientTenant);
        Assert.Equal("tenant-a", seenA.ContextTenant);
        Assert.Null(seenB.AmbientTenant);
        Assert.NotEqual(seenA.ScopeId, seenB.ScopeId);
        Assert.Equal(1, seenA.Attempt);
    }

    [Fact]
    public async Task A_failing_job_is_retried_with_backoff_until_it_succeeds()
    {
        var probe = new Probe { Behavior = (p, c, _) => c.Attempt < 3 ? throw new InvalidOperationException($"boom {c.Attempt}") : Task.CompletedTask };
        await using var host = await StartAsync("w-retry", probe: probe);
        var id = await host.Client.EnqueueAsync(new Ping(1));
        await UntilStateAsync(id!.Value, "succeeded");
        Assert.Equal([1, 2, 3], probe.Seen.Where(s => s.JobId == id).Select(s => s.Attempt).Order());
        Assert.Contains("boom 2", await ErrorOfAsync(id.Value));
    }

    [Fact]
    public async Task After_its_last_attempt_a_job_is_dead_with_its_last_error_and_the_worker_keeps_running()
    {
        var probe = new Probe { Behavior = (p, c, _) => p.N == 1 ? throw new InvalidOperationException($"always fails ({c.Attempt})") : Task.CompletedTask };
        await using var host = await StartAsync("w-dead", probe: probe);
        var bad = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 2 });
        await UntilStateAsync(bad!.Value, "dead");
        var error = await ErrorOfAsync(bad.Value);
        Assert.Contains("System.InvalidOperationException: always fails (2)", error);
        Assert.Equal(2, probe.Seen.Count(s => s.JobId == bad));

        var good = await host.Client.EnqueueAsync(new Ping(2));
        await UntilStateAsync(good!.Value, "succeeded");
    }

    [Fact]
    public async Task A_job_of_an_unknown_kind_is_retried_with_a_clear_error_then_dead()
    {
        await using var host = await StartAsync("w-kind");
        var id = await database.ScalarAsync<long>(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at) "
            + "VALUES ('w-kind', 'test.nobody', '{}', now(), 2, now()) RETURNING id");
        await UntilStateAsync(id, "dead");
        Assert.Contains("No handler for job kind 'test.nobody' is registered on this host", await ErrorOfAsync(id));
        Assert.Equal(2, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task A_handler_that_ignores_its_timeout_is_abandoned_and_the_worker_goes_on()
    {
        var never = new TaskCompletionSource();
        var probe = new Probe
        {
            Behavior = (p, c, token) => p.N switch
            {
                1 => never.Task,                                       // hangs, ignores the token
                2 => Task.Delay(TimeSpan.FromMinutes(5), token),       // observes the token
                _ => Task.CompletedTask,
            },
        };
        await using var host = await StartAsync("w-hang", o => o.Queues["w-hang"] = new QueueOptions { Concurrency = 1 }, probe);
        var hung = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Timeout = TimeSpan.FromMilliseconds(100), MaxAttempts = 1 });
        var slow = await host.Client.EnqueueAsync(new Ping(2), new JobOptions { Timeout = TimeSpan.FromMilliseconds(100), MaxAttempts = 1 });
        var fine = await host.Client.EnqueueAsync(new Ping(3));
        await UntilStateAsync(hung!.Value, "dead");
        await UntilStateAsync(slow!.Value, "dead");
        await UntilStateAsync(fine!.Value, "succeeded");
        Assert.Contains("ignored cancellation", await ErrorOfAsync(hung.Value));
        Assert.Contains("Timed out after 00:00:00.1", await ErrorOfAsync(slow.Value));
        never.SetResult();
    }

    [Theory]
    [InlineData(false)] // fetched: started on the queue's pump
    [InlineData(true)] // enqueued on this host with a free slot: started off the pump
    public async Task A_handler_that_blocks_its_thread_neither_stalls_its_queue_nor_stays_running(bool localDispatch)
    {
        // The handler blocks synchronously before returning a task. It used to run inline on the queue's fetch loop:
        // the loop stopped (no other job of the queue was fetched) and, the executor never getting its task, the job's
        // timeout never fired while heartbeats kept its lease alive.
        using var blocker = new ManualResetEventSlim();
        var returned = 0;
        var probe = new Probe
        {
            Behavior = (p, _, _) =>
            {
                if (p.N == 1)
                {
                    blocker.Wait(TimeSpan.FromSeconds(20));
                    Interlocked.Exchange(ref returned, 1);
                }

                return Task.CompletedTask;
            },
        };
        try
        {
            var queue = localDispatch ? "w-block-local" : "w-block";
            await using var host = await StartAsync(
                queue, o => o.Queues[queue] = new QueueOptions { Concurrency = 2, LocalDispatch = localDispatch }, probe);
            var blocked = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Timeout = TimeSpan.FromMilliseconds(200), MaxAttempts = 1 });
            await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the blocking job to start");

            var others = new long[3];
            for (var i = 0; i < others.Length; i++)
            {
                others[i] = (await host.Client.EnqueueAsync(new Ping(10 + i)))!.Value;
            }

            foreach (var other in others)
            {
                await TestSignal.UntilAsync(
                    async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {other}") == "succeeded",
                    $"job {other} to succeed while the blocking handler holds its thread", TimeSpan.FromSeconds(10));
            }

            await TestSignal.UntilAsync(
                async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {blocked}") == "dead",
                "the blocked job to be dead after its timeout", TimeSpan.FromSeconds(10));
            Assert.Equal(0, Volatile.Read(ref returned));
            var error = await ErrorOfAsync(blocked!.Value);
            Assert.Contains("Timed out after 00:00:00.2", error);
            Assert.Contains("abandoned", error);
        }
        finally
        {
            blocker.Set();
        }
    }

    [Fact]
    public async Task Jobs_start_by_priority_then_due_time()
    {
        await using (var client = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false))
        {
            var t0 = DateTimeOffset.UtcNow.AddSeconds(-10);
            await client.Client.EnqueueAsync(new Ping(4), new JobOptions { Queue = "w-prio", Priority = JobPriority.Low, RunAt = t0 });
            await client.Client.EnqueueAsync(new Ping(3), new JobOptions { Queue = "w-prio", RunAt = t0.AddSeconds(1) });
            await client.Client.EnqueueAsync(new Ping(2), new JobOptions { Queue = "w-prio", RunAt = t0 });
            await client.Client.EnqueueAsync(new Ping(1), new JobOptions { Queue = "w-prio", Priority = JobPriority.High, RunAt = t0.AddSeconds(2) });
            await client.Client.EnqueueAsync(new Ping(0), new JobOptions { Queue = "w-prio", Priority = JobPriority.Critical, RunAt = t0.AddSeconds(3) });
        }

        await using var host = await StartAsync("w-prio", o => o.Queues["w-prio"] = new QueueOptions { Concurrency = 1 });
        await TestSignal.UntilAsync(() => Task.FromResult(host.Probe.Count == 5), "five jobs to run");
        Assert.Equal([0, 1, 2, 3, 4], host.Probe.Seen.Select(s => s.N));
    }

    [Fact]
    public async Task A_delayed_job_starts_once_it_is_due()
    {
        await using var host = await StartAsync("w-delay");
        var id = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Delay = TimeSpan.FromMilliseconds(500) });
        await UntilStateAsync(id!.Value, "succeeded");
        Assert.True(await database.ScalarAsync<bool>($"SELECT attempted_at >= run_at FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task A_notification_wakes_an_idle_worker_without_waiting_for_the_poll()
    {
        // Local dispatch off: with it, a job enqueued on this host goes in started and no NOTIFY is involved.
        await using var host = await StartAsync("w-notify", o =>
        {
            o.PollInterval = TimeSpan.FromHours(1);
            o.Queues["w-notify"] = new QueueOptions { LocalDispatch = false };
        });
        for (var i = 0; i < 3; i++)
        {
            // Settled again each time: the fetch after a finished job (a slot came free) must not count as woken.
            var producer = await host.SettledProducerAsync("w-notify");
            var fetches = producer.Fetches;
            var id = await host.Client.EnqueueAsync(new Ping(i));
            await UntilStateAsync(id!.Value, "succeeded");
            Assert.True(producer.Fetches > fetches);
        }

        Assert.Equal(3, host.Probe.Count);
    }

    [Fact]
    public async Task Completions_are_written_in_batches()
    {
        // The first job's completion is held on a row lock; the outcomes of the nine jobs that finish meanwhile pile up
        // and must then go in one write (one write per job would report batches of one).
        var gate = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 0 ? gate.Task : Task.CompletedTask };
        await using var host = await StartAsync("w-batched", o =>
        {
            o.Queues["w-batched"] = new QueueOptions { Concurrency = 10 };
            o.LeaseDuration = TimeSpan.FromMinutes(5); // no heartbeat (every 100 s) meets the lock
        }, probe);
        var completer = host.Services.GetRequiredService<JobWorker>().Completer!;
        var batches = new System.Collections.Concurrent.ConcurrentQueue<int>();
        completer.Flushed += batches.Enqueue;

        var first = (await host.Client.EnqueueAsync(new Ping(0)))!.Value;
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the first job to start");
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var locking = await connection.BeginTransactionAsync();
        await using (var lockRow = new Npgsql.NpgsqlCommand($"SELECT 1 FROM scaleops.jobs WHERE id = {first} FOR UPDATE", connection, locking))
        {
            await lockRow.ExecuteNonQueryAsync();
        }

        gate.SetResult();
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                + $"WHERE l.locktype = 'transactionid' AND NOT l.granted AND a.datname = current_database() AND l.pid <> {connection.ProcessID}") > 0,
            "the first completion to wait for the row lock");
        await host.Client.EnqueueManyAsync(Enumerable.Range(1, 9).Select(i => new Ping(i)).ToList());
        await TestSignal.UntilAsync(() => Task.FromResult(completer.Waiting == 9), "nine outcomes to wait behind the first");

        await locking.CommitAsync();
        // Flushed is raised after a write returns, so wait for the reports themselves (the rows can be visible first).
        await TestSignal.UntilAsync(() => Task.FromResult(batches.Sum() == 10), "the ten outcomes to be reported written");
        Assert.Equal([1, 9], batches.ToArray());
        Assert.Equal(10L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'w-batched' AND state = 'succeeded'"));
    }

    [Fact]
    public async Task Per_queue_concurrency_is_never_exceeded()
    {
        var gate = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, _) => gate.Task };
        await using var host = await StartAsync("w-conc", o => o.Queues["w-conc"] = new QueueOptions { Concurrency = 3 }, probe);
        await host.Client.EnqueueManyAsync(Enumerable.Range(0, 10).Select(i => new Ping(i)).ToList());
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 3), "three jobs to start");
        Assert.Equal(3L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'w-conc' AND state = 'running'"));
        gate.SetResult();
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'w-conc' AND state = 'succeeded'") == 10,
            "all ten jobs to succeed");
        Assert.Equal(3, probe.MaxRunning);
    }

    [Fact]
    public async Task A_local_buffer_claims_jobs_ahead_but_runs_no_more_than_the_concurrency_and_gives_them_back_on_stop()
    {
        var gate = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, token) => gate.Task.WaitAsync(token) };
        await using (var host = await StartAsync("w-buffer", o =>
        {
            o.Queues["w-buffer"] = new QueueOptions { Concurrency = 2, LocalBuffer = 10 };
            o.ShutdownTimeout = TimeSpan.FromMilliseconds(100);
        }, probe))
        {
            await host.Client.EnqueueManyAsync(Enumerable.Range(0, 20).Select(i => new Ping(i)).ToList());
            await TestSignal.UntilAsync(
                async () => probe.Count == 2
                    && await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'w-buffer' AND state = 'running'") == 12,
                "two running and ten buffered jobs to be claimed");
            Assert.Equal(2, probe.Count);
        }

        Assert.Equal(2, probe.MaxRunning);
        Assert.Equal(20L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'w-buffer' AND state = 'pending' AND attempt = 0"));

        var fast = new Probe();
        await using var again = await StartAsync("w-buffer", o => o.Queues["w-buffer"] = new QueueOptions { Concurrency = 2, LocalBuffer = 10 }, fast);
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'w-buffer' AND state = 'succeeded'") == 20,
            "all twenty jobs to succeed");
        Assert.True(fast.MaxRunning <= 2);
    }

    [Fact]
    public async Task An_error_message_that_PostgreSQL_cannot_store_does_not_block_completions()
    {
        var probe = new Probe { Behavior = (p, _, _) => p.N == 1 ? throw new InvalidOperationException("bad\0byte") : Task.CompletedTask };
        await using var host = await StartAsync("w-nul", probe: probe);
        var bad = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 1 });
        var good = await host.Client.EnqueueAsync(new Ping(2));
        await UntilStateAsync(bad!.Value, "dead");
        await UntilStateAsync(good!.Value, "succeeded");
        Assert.Contains("bad\\0byte", await ErrorOfAsync(bad.Value));
    }

    [Fact]
    public async Task Error_messages_with_a_lone_surrogate_or_cut_inside_a_surrogate_pair_do_not_block_completions()
    {
        // The stored error is "<exception type>: <message>\n<stack>", cut at 8,000 characters: this message puts the two
        // halves of an emoji at positions 7,999 and 8,000, so a plain cut leaves a lone high surrogate.
        const string Prefix = "System.InvalidOperationException: ";
        var cutInPair = new string('x', 8000 - Prefix.Length - 1) + "\U0001F600 and more";
        var probe = new Probe
        {
            Behavior = (p, _, _) => p.N switch
            {
                1 => throw new InvalidOperationException("bad \uD83D"),
                2 => throw new InvalidOperationException(cutInPair),
                _ => Task.CompletedTask,
            },
        };
        await using var host = await StartAsync("w-surrogate", probe: probe);
        var lone = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 1 });
        var cut = await host.Client.EnqueueAsync(new Ping(2), new JobOptions { MaxAttempts = 1 });
        var good = await host.Client.EnqueueAsync(new Ping(3));
        await UntilStateAsync(lone!.Value, "dead");
        await UntilStateAsync(cut!.Value, "dead");
        await UntilStateAsync(good!.Value, "succeeded");

        Assert.StartsWith(Prefix + "bad \uFFFD\n", await ErrorOfAsync(lone.Value), StringComparison.Ordinal);
        var error = await ErrorOfAsync(cut.Value);
        Assert.Equal(Prefix + cutInPair[..^("\U0001F600 and more".Length)], error);

        // The completer is still writing.
        var later = await host.Client.EnqueueAsync(new Ping(4));
        await UntilStateAsync(later!.Value, "succeeded");
    }

    [Fact]
    public async Task An_outcome_the_client_cannot_send_is_dropped_and_the_completer_keeps_writing()
    {
        var gate = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 1 ? gate.Task : Task.CompletedTask };
        await using var host = await StartAsync("w-unsendable", probe: probe);
        var held = await host.Client.EnqueueAsync(new Ping(1));
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the held job to start");

        // An outcome whose error Npgsql's strict UTF-8 encoder refuses (a .NET exception on the client, not a
        // PostgresException): the completer drops it and goes on writing the other outcomes.
        var completer = host.Services.GetRequiredService<JobWorker>().Completer!;
        var lease = await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {held}");
        await completer.AddAsync(new Completion(held!.Value, lease, 1, CompletionKind.Dead, "bad \uD83D", default));
        var good = await host.Client.EnqueueAsync(new Ping(2));
        await UntilStateAsync(good!.Value, "succeeded");
        Assert.Equal("running", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {held}"));

        // The dropped outcome changed nothing: the job's real outcome is written when it finishes.
        gate.SetResult();
        await UntilStateAsync(held.Value, "succeeded");
    }
}
