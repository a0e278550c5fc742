using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

public partial class LifecycleTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    [Fact]
    public async Task An_expired_lease_is_rescued_and_the_dead_workers_late_completion_is_rejected()
    {
        long id;
        FetchedJob stolen;
        await using (var client = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false))
        {
            id = (await client.Client.EnqueueAsync(new Ping(1), new JobOptions { Queue = "rescue" }))!.Value;

            // A "worker" takes the job with a one-second lease and dies: it never heartbeats nor completes.
            var store = client.Services.GetRequiredService<JobStore>();
            var now = DateTimeOffset.UtcNow;
            stolen = Assert.Single((await store.JobFetchAvailableAsync("rescue", 10, null, 0, now, TimeSpan.FromSeconds(1), default)).Jobs);
        }

        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "rescue";
            o.RescueInterval = TimeSpan.FromMilliseconds(200);
        });
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == "succeeded", "the rescued job to run");
        Assert.Equal(2, Assert.Single(host.Probe.Seen).Attempt);
        Assert.Contains("stopped renewing the lease", await database.ScalarAsync<string>($"SELECT last_error FROM scaleops.jobs WHERE id = {id}"));

        // The dead worker wakes up and reports a failure of its attempt 1: the guard ignores it.
        var store2 = host.Services.GetRequiredService<JobStore>();
        await store2.JobCompleteManyAsync([new Completion(stolen.Id, stolen.LeaseId, stolen.Attempt, CompletionKind.Dead, "late", default)], false, default);
        Assert.Equal("succeeded", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task A_run_of_a_job_that_was_retried_after_it_died_cannot_complete_the_new_run()
    {
        // Retrying a dead job used to reset its attempt to 0, so its next run had the same lease token (id, attempt) as
        // the run the rescuer gave up on, and that stale run's outcome was taken for the new run's.
        var firstRun = new TaskCompletionSource();
        var secondRun = new TaskCompletionSource();
        var runs = 0;
        var probe = new Probe
        {
            Behavior = async (_, _, _) =>
            {
                if (Interlocked.Increment(ref runs) == 1)
                {
                    await firstRun.Task;
                    throw new InvalidOperationException("the stale first run");
                }

                await secondRun.Task;
            },
        };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "stale-lease", probe: probe);
        var id = (await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 1 }))!.Value;
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the first run to start");

        // The rescuer gives up on the first run (its lease expired on its last attempt), as if its host had been cut
        // off; an operator retries the dead job and a second run starts while the first one is still running.
        await database.ExecuteAsync(
            $"UPDATE scaleops.jobs SET state = 'dead', finished_at = now(), lease_until = NULL, last_error = 'lease expired' WHERE id = {id}");
        Assert.True(await host.Admin.RetryDeadAsync(id));
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 2), "the second run to start");

        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Services.GetRequiredService<JobWorker>().Completer!.Flushed += _ => written.TrySetResult();
        firstRun.SetResult();
        await written.Task.WaitAsync("the first run's outcome to be written");
        Assert.Equal("running", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));

        secondRun.SetResult();
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == "succeeded",
            "the second run's success to be recorded");
        Assert.Equal("lease expired", await database.ScalarAsync<string>($"SELECT last_error FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task A_lease_whose_last_attempt_expired_makes_the_job_dead()
    {
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "rescue-dead";
            o.RescueInterval = TimeSpan.FromMilliseconds(200);
            o.Queues["other"] = new QueueOptions();
        });
        var id = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Queue = "nobody-fetches", MaxAttempts = 1 });
        var store = host.Services.GetRequiredService<JobStore>();
        var now = DateTimeOffset.UtcNow;
        Assert.Single((await store.JobFetchAvailableAsync("nobody-fetches", 10, null, 0, now, TimeSpan.FromMilliseconds(100), default)).Jobs);
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == "dead", "the job to be dead");
    }

    [Fact]
    public async Task Heartbeats_keep_a_long_job_leased()
    {
        var gate = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, _) => gate.Task };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "heartbeat";
            o.LeaseDuration = TimeSpan.FromSeconds(3); // a heartbeat every second; a loaded machine may delay one by 2 s
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
        }, probe: probe);
        var id = await host.Client.EnqueueAsync(new Ping(1));
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the job to start");
        var firstLease = await database.ScalarAsync<DateTime>($"SELECT lease_until FROM scaleops.jobs WHERE id = {id}");

        // A lease ending more than one lease duration after the first one was renewed after the first one expired.
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<DateTime>($"SELECT lease_until FROM scaleops.jobs WHERE id = {id}") > firstLease.AddSeconds(3),
            "a heartbeat to renew the lease past its first expiry");
        Assert.Equal("running", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
        gate.SetResult();
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == "succeeded", "the job to succeed");
        Assert.Equal(1, probe.Count);
    }

    [Fact]
    public async Task Stopping_gives_back_jobs_that_do_not_finish_in_time_without_counting_the_attempt()
    {
        var probe = new Probe { Behavior = (_, _, token) => Task.Delay(TimeSpan.FromMinutes(5), token) };
        long? id;
        await using (var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "shutdown";
            o.ShutdownTimeout = TimeSpan.FromMilliseconds(100);
        }, probe: probe))
        {
            id = await host.Client.EnqueueAsync(new Ping(1));
            await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the job to start");
        }

        Assert.Equal("pending", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(0, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task Stopping_gives_back_a_job_that_ignores_the_cancellation_without_counting_its_last_attempt()
    {
        // Past ShutdownTimeout and TimeoutGrace, a handler that ignores its token used to be abandoned as a failed
        // attempt (dead on its last one), racing with the stop's release of the same lease.
        var never = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, _) => never.Task };
        long? id;
        await using (var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "shutdown-ignore";
            o.ShutdownTimeout = TimeSpan.FromMilliseconds(100);
        }, probe: probe))
        {
            id = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 1 });
            await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the job to start");
        }

        never.SetResult();
        Assert.Equal("pending", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(0, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
        Assert.True(await database.ScalarAsync<bool>($"SELECT last_error IS NULL FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task Stopping_waits_for_running_jobs_that_finish_in_time()
    {
        var release = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, _) => release.Task };
        long? id;
        var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "shutdown-wait", probe: probe);
        id = await host.Client.EnqueueAsync(new Ping(1));
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the job to start");
        var stopping = host.DisposeAsync().AsTask();
        release.SetResult();
        await stopping.WaitAsync("the host to stop");
        Assert.Equal("succeeded", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task A_second_concurrent_stop_waits_for_the_same_drain()
    {
        // ASP.NET Core's minimal hosting and WebApplicationFactory both stop the host: the second stop must not return
        // (and let the host be disposed) while the first is still draining running jobs.
        var release = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, _) => release.Task };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "shutdown-twice", probe: probe);
        var id = await host.Client.EnqueueAsync(new Ping(1));
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the job to start");
        var worker = host.Services.GetRequiredService<JobWorker>();

        var first = worker.StopAsync(CancellationToken.None);
        var second = worker.StopAsync(CancellationToken.None);
        Assert.False(second.IsCompleted, "the second stop returned while a job was still running");
        release.SetResult();
        await Task.WhenAll(first, second).WaitAsync("both stops to finish");
        Assert.Equal("succeeded", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task Disposing_the_worker_during_a_stop_cuts_it_short_and_gives_the_job_back()
    {
        var probe = new Probe { Behavior = (_, _, token) => Task.Delay(TimeSpan.FromMinutes(5), token) };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "shutdown-dispose";
            o.ShutdownTimeout = TimeSpan.FromMinutes(5);
        }, probe: probe);
        var id = await host.Client.EnqueueAsync(new Ping(1));
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the job to start");
        var worker = host.Services.GetRequiredService<JobWorker>();

        var stopping = worker.StopAsync(CancellationToken.None);
        Assert.False(stopping.IsCompleted, "the stop did not wait for the running job");
        worker.Dispose();
        await stopping.WaitAsync("the stop to finish once the worker is disposed");
        Assert.Equal("pending", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(0, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task Host_stop_timeout_cancels_running_jobs_at_once()
    {
        var probe = new Probe { Behavior = (_, _, token) => Task.Delay(TimeSpan.FromMinutes(5), token) };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "shutdown-hurry";
            o.ShutdownTimeout = TimeSpan.FromMinutes(5);
        }, probe: probe);
        var id = await host.Client.EnqueueAsync(new Ping(1));
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the job to start");
        var worker = host.Services.GetRequiredService<JobWorker>();

        using var hostGaveUp = new CancellationTokenSource();
        var stopping = worker.StopAsync(hostGaveUp.Token);
        Assert.False(stopping.IsCompleted, "the stop did not wait for the running job");
        await hostGaveUp.CancelAsync();
        await stopping.WaitAsync("the stop to finish once the host's stop token fired");
        Assert.Equal("pending", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task Retention_deletes_finished_jobs_in_batches_and_zero_retention_deletes_at_completion()
    {
        await using (var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "retain";
            o.SucceededRetention = TimeSpan.FromMilliseconds(300);
            o.RetentionInterval = TimeSpan.FromSeconds(1);
        }))
        {
            await host.Client.EnqueueManyAsync(Enumerable.Range(0, 2500).Select(i => new Ping(i)).ToList());
            await TestSignal.UntilAsync(
                async () => await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'retain'") == 0,
                "retention to delete the 2,500 succeeded jobs");
            Assert.Equal(2500, host.Probe.Count);
        }

        await using (var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "retain-zero";
            o.SucceededRetention = TimeSpan.Zero;
        }))
        {
            var id = await host.Client.EnqueueAsync(new Ping(1));
            await TestSignal.UntilAsync(() => Task.FromResult(host.Probe.Count == 1), "the job to run");
            await TestSignal.UntilAsync(
                async () => await database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.jobs WHERE id = {id}") == 0, "the job row to be deleted");
        }
    }

    [Fact]
    public async Task Metrics_count_enqueued_started_succeeded_failed_and_dead_jobs()
    {
        var probe = new Probe { Behavior = (p, _, _) => p.N == 1 ? throw new InvalidOperationException("no") : Task.CompletedTask };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "metrics", probe: probe);
        var factory = host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var enqueued = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.enqueued");
        using var started = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.started");
        using var succeeded = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.succeeded");
        using var failed = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.failed");
        using var dead = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.dead");
        using var queueTime = new MetricCollector<double>(factory, "ScaleOps", "scaleops.jobs.queue_time");
        using var runTime = new MetricCollector<double>(factory, "ScaleOps", "scaleops.jobs.run_time");

        await host.Client.EnqueueAsync(new Ping(0));
        var bad = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 2 });
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {bad}") == "dead", "the bad job to die");
        // Outcomes are counted once the completer's statement returned, after the rows changed: wait for the counts.
        await TestSignal.UntilAsync(
            () => Task.FromResult(succeeded.GetMeasurementSnapshot().Count == 1 && failed.GetMeasurementSnapshot().Count == 1 && dead.GetMeasurementSnapshot().Count == 1),
            "the outcomes to be counted");

        Assert.Equal(2, enqueued.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal("metrics", enqueued.LastMeasurement!.Tags["queue"]);
        Assert.Equal("test.ping", enqueued.LastMeasurement.Tags["kind"]);
        Assert.Equal(3, started.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.All(started.GetMeasurementSnapshot(), m => Assert.Equal("metrics", m.Tags["queue"]));
        Assert.All(started.GetMeasurementSnapshot(), m => Assert.Equal("test.ping", m.Tags["kind"]));
        Assert.Equal(1, failed.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(1, dead.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(3, queueTime.GetMeasurementSnapshot().Count);
        Assert.Equal(3, runTime.GetMeasurementSnapshot().Count);
    }

    [Fact]
    public async Task Metrics_count_rescued_and_rescued_dead_jobs_by_queue_and_kind_and_gauge_the_queue_depth()
    {
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "metrics-rescue";
            o.RescueInterval = TimeSpan.FromMilliseconds(200);
        });
        var factory = host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var rescued = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.rescued");
        using var dead = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.dead");
        using var depth = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.queue.depth");

        // Two jobs of a queue no host works are taken by a "worker" that dies: the rescuer re-queues one and makes the
        // other, on its last attempt, dead. Three more wait in the queue.
        var again = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Queue = "metrics-stolen" });
        var last = await host.Client.EnqueueAsync(new Ping(2), new JobOptions { Queue = "metrics-stolen", MaxAttempts = 1 });
        var store = host.Services.GetRequiredService<JobStore>();
        var now = DateTimeOffset.UtcNow;
        Assert.Equal(2, (await store.JobFetchAvailableAsync("metrics-stolen", 10, null, 0, now, TimeSpan.FromMilliseconds(100), default)).Jobs.Count);
        await host.Client.EnqueueManyAsync(new[] { new Other(1), new Other(2), new Other(3) }, new JobOptions { Queue = "metrics-stolen" });

        await TestSignal.UntilAsync(
            () => Task.FromResult(rescued.GetMeasurementSnapshot().Sum(m => m.Value) == 1 && dead.GetMeasurementSnapshot().Sum(m => m.Value) == 1),
            "the rescuer to re-queue one job and kill the other");
        var requeuedMeasurement = Assert.Single(rescued.GetMeasurementSnapshot());
        Assert.Equal("metrics-stolen", requeuedMeasurement.Tags["queue"]);
        Assert.Equal("test.ping", requeuedMeasurement.Tags["kind"]);
        var deadMeasurement = Assert.Single(dead.GetMeasurementSnapshot());
        Assert.Equal("metrics-stolen", deadMeasurement.Tags["queue"]);
        Assert.Equal("test.ping", deadMeasurement.Tags["kind"]);
        Assert.Equal("pending", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {again}"));
        Assert.Equal("dead", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {last}"));

        // The gauge, refreshed by the rescuer's next pass: the re-queued job and the three waiting ones.
        await TestSignal.UntilAsync(() =>
        {
            depth.RecordObservableInstruments();
            return Task.FromResult(depth.GetMeasurementSnapshot().Any(m => Equals(m.Tags["queue"], "metrics-stolen") && m.Value == 4));
        }, "the queue depth gauge to show four due jobs in metrics-stolen");
    }
}
