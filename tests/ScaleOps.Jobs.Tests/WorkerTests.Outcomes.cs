using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
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
}
