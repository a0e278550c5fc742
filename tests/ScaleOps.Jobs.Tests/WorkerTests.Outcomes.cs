using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>The README's span outcomes not covered by the retry-then-succeed test, and the admin's queue statistics.</summary>
public partial class WorkerTests
{
    [Fact]
    public async Task A_run_span_says_Dead_for_a_last_failed_attempt_and_Released_for_a_job_given_back_at_stop()
    {
        using var recorder = new ActivityRecorder();
        var probe = new Probe
        {
            Behavior = (p, _, token) => p.N == 1 ? throw new InvalidOperationException("last one") : Task.Delay(Timeout.InfiniteTimeSpan, token),
        };
        long? dead, released;
        await using (var host = await StartAsync("w-outcomes", o => o.ShutdownTimeout = TimeSpan.Zero, probe))
        {
            dead = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 1 });
            await UntilStateAsync(dead!.Value, "dead");
            released = await host.Client.EnqueueAsync(new Ping(2));
            await TestSignal.UntilAsync(() => Task.FromResult(probe.Seen.Any(s => s.JobId == released)), "the held job to start");
        }

        await UntilStateAsync(released!.Value, "pending");
        Activity Span(long id) => Assert.Single(recorder.Stopped,
            a => a.OperationName == "ScaleOps.Jobs.Run" && Equals(a.GetTagItem("scaleops.jobs.id"), id)
                && Equals(a.GetTagItem("scaleops.jobs.queue"), "w-outcomes")); // other test classes' job ids are the same numbers
        Assert.Equal(("Dead", ActivityStatusCode.Error), ((string)Span(dead.Value).GetTagItem("scaleops.jobs.outcome")!, Span(dead.Value).Status));
        Assert.Contains("last one", Span(dead.Value).StatusDescription, StringComparison.Ordinal);
        Assert.Equal("Released", Span(released.Value).GetTagItem("scaleops.jobs.outcome"));
        Assert.Equal(ActivityStatusCode.Unset, Span(released.Value).Status);
    }

    [Fact]
    public async Task Queue_stats_count_every_state_and_the_oldest_due_jobs_wait()
    {
        var now = DateTimeOffset.UtcNow;
        var time = new FakeTimeProvider(now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond))); // PostgreSQL keeps microseconds
        var hold = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 1 ? hold.Task : Task.CompletedTask };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "w-stats";
            o.Queues["w-stats"] = new QueueOptions { Concurrency = 1 };
            o.LeaseDuration = TimeSpan.FromHours(1);
        }, probe: probe, services: s => s.AddSingleton<TimeProvider>(time));
        try
        {
            var succeeded = await host.Client.EnqueueAsync(new Ping(0));
            await UntilStateAsync(succeeded!.Value, "succeeded");
            var running = await host.Client.EnqueueAsync(new Ping(1)); // holds the only slot
            await UntilStateAsync(running!.Value, "running");
            await host.Client.EnqueueAsync(new Ping(2));
            time.Advance(TimeSpan.FromMinutes(5));
            await host.Client.EnqueueAsync(new Ping(3));
            await host.Client.EnqueueAsync(new Ping(4), new JobOptions { Delay = TimeSpan.FromMinutes(1) });
            var cancelled = await host.Client.EnqueueAsync(new Ping(5), new JobOptions { Delay = TimeSpan.FromMinutes(1) });
            Assert.True(await host.Admin.CancelAsync(cancelled!.Value));
            Assert.False(await host.Admin.CancelAsync(running.Value)); // pending jobs only

            var stats = Assert.Single(await host.Admin.GetQueueStatsAsync(), s => s.Queue == "w-stats");
            Assert.Equal((2L, 1L, 1L, 1L, 0L, 1L), (stats.Available, stats.Scheduled, stats.Running, stats.Succeeded, stats.Dead, stats.Cancelled));
            Assert.Equal(TimeSpan.FromMinutes(5), stats.OldestWait);
        }
        finally
        {
            hold.TrySetResult();
        }
    }

    [Theory]
    [InlineData(false)] // DateTimeOffset.MinValue (stored as -infinity)
    [InlineData(true)] // a day before the enqueue
    public async Task A_job_due_before_it_was_enqueued_has_waited_since_its_enqueue_in_the_stats_and_the_queue_time(bool aDayEarlier)
    {
        // A RunAt in the past (MinValue for "at once", or the time of the event a job is about) made the job wait since
        // then: OldestWait said 2,026 years for MinValue, and its queue_time sample (6.4e10 s) stayed in the histogram's
        // sum for the life of the process.
        var queue = aDayEarlier ? "w-past-day" : "w-past-min";
        var now = DateTimeOffset.UtcNow;
        var time = new FakeTimeProvider(now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond))); // PostgreSQL keeps microseconds
        var hold = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 1 ? hold.Task : Task.CompletedTask };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.Queues[queue] = new QueueOptions { Concurrency = 1, LocalDispatch = false };
            o.LeaseDuration = TimeSpan.FromHours(1);
        }, probe: probe, services: s => s.AddSingleton<TimeProvider>(time));
        using var queueTime = new MetricCollector<double>(
            host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "ScaleOps", "scaleops.jobs.queue_time");
        try
        {
            var holder = await host.Client.EnqueueAsync(new Ping(1)); // holds the only slot
            await UntilStateAsync(holder!.Value, "running");
            var past = await host.Client.EnqueueAsync(
                new Ping(2), new JobOptions { RunAt = aDayEarlier ? time.GetUtcNow().AddDays(-1) : DateTimeOffset.MinValue });
            time.Advance(TimeSpan.FromMinutes(5));

            var stats = Assert.Single(await host.Admin.GetQueueStatsAsync(), s => s.Queue == queue);
            Assert.Equal((1L, TimeSpan.FromMinutes(5)), (stats.Available, stats.OldestWait));

            hold.SetResult();
            await UntilStateAsync(past!.Value, "succeeded");
            var waited = queueTime.GetMeasurementSnapshot().Where(m => Equals(m.Tags["queue"], queue)).Select(m => m.Value).ToList();
            Assert.Equal(2, waited.Count);
            Assert.All(waited, w => Assert.InRange(w, 0, TimeSpan.FromMinutes(5).TotalSeconds));
        }
        finally
        {
            hold.TrySetResult();
        }
    }
}
