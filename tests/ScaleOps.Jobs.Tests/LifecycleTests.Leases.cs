using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>Leases between the end of a run and its written outcome, and runs that lose their lease.</summary>
public partial class LifecycleTests
{
    private Task UntilStateAsync(long id, string state) => TestSignal.UntilAsync(
        async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == state, $"job {id} to be {state}");

    /// <summary>
    /// A heartbeat that came too late (a loaded machine, a GC pause, a short partition): the lease of the job's current
    /// run is moved into the past until the host's rescuer has taken the job away from that run.
    /// </summary>
    private Task ExpireLeaseUntilRescuedAsync(long id, long leaseId) => TestSignal.UntilAsync(async () =>
    {
        await database.ExecuteAsync(
            $"UPDATE scaleops.jobs SET lease_until = now() - interval '1 minute' WHERE id = {id} AND state = 'running' AND lease_id = {leaseId}");
        return await database.ScalarAsync<bool>($"SELECT NOT (state = 'running' AND lease_id = {leaseId}) FROM scaleops.jobs WHERE id = {id}");
    }, $"the rescuer to take job {id} from lease {leaseId}");

    [Fact]
    public async Task A_running_job_without_a_lease_is_given_back_by_the_rescuer_and_runs()
    {
        // The schema allows a running row without lease_until (written in SQL: no worker writes one). The rescuer looked
        // only for leases that expired, so it stayed running for good: never fetched, and the admin API can neither retry
        // (not dead) nor cancel (not pending) it.
        var id = await database.ScalarAsync<long>(
            "INSERT INTO scaleops.jobs (queue, kind, payload, state, run_at, attempt, max_attempts, created_at, attempted_at) "
            + "VALUES ('no-lease', 'test.ping', '{\"n\":1}', 'running', now(), 1, 3, now(), now()) RETURNING id");
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "no-lease";
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
        });

        await UntilStateAsync(id, "succeeded");
        Assert.Equal((1, 2), (Assert.Single(host.Probe.Seen).N, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}")));
        Assert.Equal("Attempt 1 was running without a lease (lease_until was NULL: not written by a worker).",
            await database.ScalarAsync<string>($"SELECT last_error FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task A_late_completion_the_lease_guard_rejects_is_counted_as_rejected_not_as_its_outcome()
    {
        // The executor counted an outcome when it handed it to the completer: a success written after the job's lease
        // had expired on its last attempt (the rescuer made it dead) changed nothing but was counted as succeeded.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe { Behavior = async (_, _, _) => { started.TrySetResult(); await gate.Task; } };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "l-late-metrics";
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
        }, probe: probe);
        var factory = host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var succeeded = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.succeeded");
        using var dead = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.dead");
        using var rejected = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.completions.rejected");
        var completer = host.Services.GetRequiredService<JobWorker>().Completer!;
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var id = (await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 1 }))!.Value;
        await started.Task.WaitAsync("the job to start");
        var lease = await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {id}");

        // The lease expires on the last attempt: the rescuer makes the job dead (and counts it dead).
        await ExpireLeaseUntilRescuedAsync(id, lease);
        await UntilStateAsync(id, "dead");
        await TestSignal.UntilAsync(() => Task.FromResult(dead.GetMeasurementSnapshot().Sum(m => m.Value) == 1), "the rescued job to be counted dead");

        // The handler then returns: its success is written against a lease that is gone and changes nothing.
        completer.Flushed += _ => written.TrySetResult();
        gate.SetResult();
        await written.Task.WaitAsync("the late completion to be written");
        Assert.Equal("dead", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(0, succeeded.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(1, dead.GetMeasurementSnapshot().Sum(m => m.Value));
        var late = Assert.Single(rejected.GetMeasurementSnapshot());
        Assert.Equal(1, late.Value);
        Assert.Equal("l-late-metrics", late.Tags["queue"]);
        Assert.Equal("test.ping", late.Tags["kind"]);
    }

    [Fact]
    public async Task A_finished_job_whose_outcome_waits_behind_a_held_up_completion_write_keeps_its_lease_and_runs_once()
    {
        // The completer writes one batch at a time. While a write is held up (here by a row lock on another job's row;
        // in production a slow statement, a lock, a batch retried for transport errors), a job that finished meanwhile
        // waits in the channel. Its lease used to leave the registry when it finished: no heartbeat renewed it, and the
        // rescuer ran the job again although its worker was alive and connected.
        var probe = new Probe();
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "l-unwritten";
            o.LeaseDuration = TimeSpan.FromSeconds(2);
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
        }, probe: probe);
        var completer = host.Services.GetRequiredService<JobWorker>().Completer!;

        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var locking = await connection.BeginTransactionAsync();
        await HoldUpCompleterAsync(host, connection, locking, "l-unwritten-held");

        var second = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
        await TestSignal.UntilAsync(() => Task.FromResult(completer.Waiting >= 1), "the second job's success to wait for the completer");
        var lease = await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {second}");
        var leaseUntil = await database.ScalarAsync<DateTime>($"SELECT lease_until FROM scaleops.jobs WHERE id = {second}");

        // Past the lease the job had when its success began to wait: heartbeats renewed it, the rescuer left it alone.
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<bool>($"SELECT clock_timestamp() > '{leaseUntil:O}'::timestamptz + interval '0.5 s'"),
            "the job's first lease to be over");
        Assert.Equal(lease, await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {second}"));
        Assert.Equal("running", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {second}"));

        await locking.CommitAsync();
        await UntilStateAsync(second, "succeeded");
        await TestSignal.UntilAsync(() => Task.FromResult(completer.Waiting == 0), "the completer to write everything");
        Assert.Equal([1], probe.Seen.Where(s => s.JobId == second).Select(s => s.Attempt));
        Assert.Equal(1, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {second}"));
    }

    [Fact]
    public async Task A_stop_with_a_shutdown_timeout_of_zero_still_writes_the_outcomes_the_completer_holds()
    {
        // ShutdownTimeout (0 is valid) is the time running handlers get. The completer used to get only that long to
        // write what it held: with 0 it dropped every queued outcome at once, and those jobs ran again (or ended dead).
        var probe = new Probe();
        var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "l-stop-zero";
            o.ShutdownTimeout = TimeSpan.Zero;
        }, probe: probe);
        var completer = host.Services.GetRequiredService<JobWorker>().Completer!;
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var locking = await connection.BeginTransactionAsync();
        await HoldUpCompleterAsync(host, connection, locking, "l-stop-zero-held");

        var ids = new long[10];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = (await host.Client.EnqueueAsync(new Ping(i)))!.Value;
        }

        await TestSignal.UntilAsync(() => Task.FromResult(completer.Waiting >= ids.Length), "the jobs' successes to wait for the completer");

        // The stop reaches the completer's flush while the write is held up; then the write goes through.
        var stopping = host.DisposeAsync().AsTask();
        await TestSignal.UntilAsync(() => Task.FromResult(completer.Completing), "the stop to ask the completer to flush");
        await locking.CommitAsync();
        await stopping;

        Assert.Equal(ids.Length, probe.Count);
        Assert.Equal((long)ids.Length, await database.ScalarAsync<long>(
            $"SELECT count(*) FROM scaleops.jobs WHERE id IN ({string.Join(", ", ids)}) AND state = 'succeeded' AND attempt = 1"));
    }

    /// <summary>
    /// Holds the completer up: a job of a queue the host does not run, taken by hand (so the host does not heartbeat it),
    /// its row locked by <paramref name="locking"/>, and its completion handed to the completer, which waits for the lock.
    /// </summary>
    private async Task HoldUpCompleterAsync(JobsHost host, Npgsql.NpgsqlConnection connection, Npgsql.NpgsqlTransaction locking, string queue)
    {
        var store = host.Services.GetRequiredService<JobStore>();
        await host.Client.EnqueueAsync(new Ping(-1), new JobOptions { Queue = queue });
        var now = DateTimeOffset.UtcNow;
        var held = Assert.Single((await store.JobFetchAvailableAsync(queue, 1, null, 0, now, TimeSpan.FromMinutes(5), default)).Jobs);
        await using (var lockRow = new Npgsql.NpgsqlCommand($"SELECT 1 FROM scaleops.jobs WHERE id = {held.Id} FOR UPDATE", connection, locking))
        {
            await lockRow.ExecuteNonQueryAsync();
        }

        await host.Services.GetRequiredService<JobWorker>().Completer!.AddAsync(
            new Completion(held.Id, held.LeaseId, 1, CompletionKind.Succeeded, null, default, held.Queue));
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                + $"WHERE l.locktype = 'transactionid' AND NOT l.granted AND a.datname = current_database() AND l.pid <> {connection.ProcessID}") > 0,
            "the held completion to wait for the row lock");
    }

    [Fact]
    public async Task A_run_whose_lease_was_lost_has_its_token_cancelled_by_the_next_heartbeat()
    {
        // A heartbeat came too late: the rescuer gave the job back and it ran again. The heartbeat that then renewed
        // nothing for the first run's lease used to go unnoticed, and that run went on beside the new one.
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe
        {
            Behavior = async (_, c, token) =>
            {
                if (c.Attempt > 1)
                {
                    return;
                }

                using var registration = token.Register(() => cancelled.TrySetResult());
                started.TrySetResult();
                await gate.Task; // a handler that honours nothing but its own work (a long HTTP call, say)
            },
        };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "l-lost";
            o.LeaseDuration = TimeSpan.FromSeconds(3); // heartbeats every second
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
        }, probe: probe);
        var id = (await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 3 }))!.Value;
        await started.Task.WaitAsync("the first run to start");
        var firstLease = await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {id}");

        await ExpireLeaseUntilRescuedAsync(id, firstLease);
        await UntilStateAsync(id, "succeeded");
        Assert.Equal([1, 2], probe.Seen.Where(s => s.JobId == id).Select(s => s.Attempt).Order());

        await cancelled.Task.WaitAsync("the first run's token to be cancelled");
        gate.SetResult();
        Assert.Equal(0L, await database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.jobs WHERE id = {id} AND state <> 'succeeded'"));
    }

    [Fact]
    public async Task A_run_that_lost_its_lease_ends_its_span_as_LeaseLost_not_as_Released()
    {
        // Released says the host gave the job back at its stop; a run whose job was rescued from it (event 3023) was
        // traced the same way, though no stop happened and the job ran again elsewhere.
        using var recorder = new ActivityRecorder();
        var stopped = recorder.Stopped;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe
        {
            Behavior = (_, c, token) =>
            {
                if (c.Attempt > 1)
                {
                    return Task.CompletedTask;
                }

                started.TrySetResult();
                return Task.Delay(Timeout.InfiniteTimeSpan, token);
            },
        };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "l-lost-span";
            o.LeaseDuration = TimeSpan.FromSeconds(3); // heartbeats every second
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
        }, probe: probe);
        var id = (await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 3 }))!.Value;
        await started.Task.WaitAsync("the first run to start");
        await ExpireLeaseUntilRescuedAsync(id, await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {id}"));
        await UntilStateAsync(id, "succeeded");
        await TestSignal.UntilAsync(() => Task.FromResult(Runs().Count == 2), "both runs' spans to end");

        Assert.Equal(["LeaseLost", "Succeeded"], Runs().Select(r => (string)r.GetTagItem("scaleops.jobs.outcome")!));
        Assert.All(Runs(), r => Assert.Equal(ActivityStatusCode.Unset, r.Status));

        System.Collections.Generic.List<Activity> Runs() => stopped
            .Where(a => a.OperationName == "ScaleOps.Jobs.Run" && Equals(a.GetTagItem("scaleops.jobs.id"), id)
                && Equals(a.GetTagItem("scaleops.jobs.queue"), "l-lost-span")) // test classes run at once, on databases of their own
            .OrderBy(a => (int)a.GetTagItem("scaleops.jobs.attempt")!).ToList();
    }
}
