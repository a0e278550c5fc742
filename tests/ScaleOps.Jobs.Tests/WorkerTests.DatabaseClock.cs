using System;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Times a host chooses and others compare (a delayed job's due time, a retry's backoff) and the waits measured from
/// times other hosts wrote (queue time, the oldest wait): on the database's clock as each host estimates it
/// (<c>DatabaseClock</c>), so a host's clock minutes off delays or hurries nothing and miscounts no wait.
/// </summary>
public partial class WorkerTests
{
    /// <summary>How far a due time may be from where the database's clock puts it (the estimate is off by milliseconds).</summary>
    private static readonly TimeSpan DueTolerance = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData(10)] // the enqueuing host's clock ahead: the job waited 10 minutes more
    [InlineData(-10)] // behind: it ran at once instead of 2 s later
    public async Task A_delayed_job_is_due_its_delay_after_the_enqueue_on_the_database_clock_whatever_the_enqueuers_clock_says(int enqueuerMinutes)
    {
        // run_at was the enqueuing host's now + Delay, compared with the fetching host's now (or the database's).
        var queue = $"w-dbclock-delay-{(enqueuerMinutes > 0 ? "ahead" : "behind")}";
        var delay = TimeSpan.FromSeconds(2);
        await using var enqueuer = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.RunWorker = false;
        }, services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromMinutes(enqueuerMinutes))));
        await using var worker = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.Queues[queue] = new QueueOptions { LocalDispatch = false };
        });

        var before = await database.ScalarAsync<DateTime>("SELECT clock_timestamp()");
        var id = (await enqueuer.Client.EnqueueAsync(new Ping(1), new JobOptions { Delay = delay }))!.Value;
        var after = await database.ScalarAsync<DateTime>("SELECT clock_timestamp()");
        var runAt = await database.ScalarAsync<DateTime>($"SELECT run_at FROM scaleops.jobs WHERE id = {id}");
        Assert.InRange(runAt, before + delay - DueTolerance, after + delay + DueTolerance);

        // Runs about 2 s later on the worker (its real clock), not 10 minutes later.
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == "succeeded",
            $"the delayed job {id} to succeed on the worker", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_retry_backed_off_by_a_host_whose_clock_is_ahead_is_not_delayed_for_the_other_hosts()
    {
        // The retry's run_at was the failing host's now + the backoff: 10 minutes in the other hosts' future.
        const string queue = "w-dbclock-retry";
        var failing = new Probe { Behavior = (_, _, _) => throw new InvalidOperationException("fails on the host ahead") };
        void Configure(JobsOptions o)
        {
            o.DefaultQueue = queue;
            o.Queues[queue] = new QueueOptions { LocalDispatch = false };
            o.RetryBaseDelay = TimeSpan.FromSeconds(4); // long enough to stop the failing host before it fetches the retry
            o.RetryMaxDelay = TimeSpan.FromSeconds(4);
        }

        long id;
        await using (var ahead = await JobsHost.StartAsync(database.ConnectionString, Configure, probe: failing,
            services: s => s.AddSingleton<TimeProvider>(new SkewedTime(Skew))))
        {
            id = (await ahead.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 5 }))!.Value;
            await TestSignal.UntilAsync(
                async () => await database.ScalarAsync<bool>($"SELECT state = 'pending' AND attempt >= 1 FROM scaleops.jobs WHERE id = {id}"),
                $"job {id}'s first attempt to fail");
            Assert.True(
                await database.ScalarAsync<bool>($"SELECT run_at <= clock_timestamp() + interval '6 s' FROM scaleops.jobs WHERE id = {id}"),
                "a retry due more than its backoff (at most 4 s) in the database's future");
        }

        await using var worker = await JobsHost.StartAsync(database.ConnectionString, Configure);
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == "succeeded",
            $"the retry of job {id} to succeed on the host with the true clock", TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData(-10)] // the stats host's clock behind: the wait was 10 minutes short (0)
    [InlineData(10)] // ahead: 10 minutes long
    public async Task The_oldest_wait_is_measured_on_the_database_clock_whatever_the_reading_hosts_clock_says(int statsMinutes)
    {
        var queue = $"w-dbclock-oldest-{(statsMinutes > 0 ? "ahead" : "behind")}";
        await using var enqueuer = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.RunWorker = false;
        });
        await using var stats = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.RunWorker = false;
        }, services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromMinutes(statsMinutes))));
        var id = (await enqueuer.Client.EnqueueAsync(new Ping(1)))!.Value;
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<bool>($"SELECT clock_timestamp() > created_at + interval '2 s' FROM scaleops.jobs WHERE id = {id}"),
            "the job to wait 2 s on the database's clock");

        var wait = Assert.Single(await stats.Admin.GetQueueStatsAsync(), s => s.Queue == queue).OldestWait;
        Assert.InRange(wait, TimeSpan.FromSeconds(2) - DueTolerance, TimeSpan.FromMinutes(1));
    }

    [Theory]
    [InlineData(-10)] // the worker's clock behind: the queue time was 10 minutes short (0)
    [InlineData(10)] // ahead: 10 minutes long
    public async Task The_queue_time_is_measured_on_the_database_clock_whatever_the_workers_clock_says(int workerMinutes)
    {
        // The worker's only slot is held by a first job; the second, enqueued by a host with the true clock, waits 2 s
        // on the database's clock behind it.
        var queue = $"w-dbclock-queue-time-{(workerMinutes > 0 ? "ahead" : "behind")}";
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe { Behavior = async (p, _, token) => await (p.N == 0 ? gate.Task.WaitAsync(token) : Task.CompletedTask) };
        await using var worker = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.Queues[queue] = new QueueOptions { Concurrency = 1, LocalDispatch = false };
        }, probe: probe, services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromMinutes(workerMinutes))));
        using var queueTime = new MetricCollector<double>(
            worker.Services.GetRequiredService<IMeterFactory>(), "ScaleOps", "scaleops.jobs.queue_time");
        await using var enqueuer = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.RunWorker = false;
        });
        await worker.Client.EnqueueAsync(new Ping(0));
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the first job to hold the slot");
        var id = (await enqueuer.Client.EnqueueAsync(new Ping(1)))!.Value;
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<bool>($"SELECT clock_timestamp() > created_at + interval '2 s' FROM scaleops.jobs WHERE id = {id}"),
            "the second job to wait 2 s on the database's clock");

        gate.SetResult();
        await UntilStateAsync(id, "succeeded");
        var measured = queueTime.GetMeasurementSnapshot();
        Assert.Equal(2, measured.Count);
        Assert.InRange(measured[1].Value, 2 - DueTolerance.TotalSeconds, 60);
    }
}
