using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>The README's metrics across several queues: each instrument's tags and values per queue, and the depth gauge.</summary>
public class MetricsTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private static long Sum(MetricCollector<long> collector, string queue) =>
        collector.GetMeasurementSnapshot().Where(m => Equals(m.Tags["queue"], queue)).Sum(m => m.Value);

    /// <summary>The gauge's values now: one observation, queue to depth.</summary>
    private static Dictionary<string, long> Depths(MetricCollector<long> depth)
    {
        depth.Clear();
        depth.RecordObservableInstruments();
        return depth.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["queue"]!, m => m.Value);
    }

    [Fact]
    public async Task Counters_histograms_and_the_depth_gauge_are_tagged_and_counted_per_queue()
    {
        var gate = new TaskCompletionSource();
        var probe = new Probe
        {
            Behavior = (p, c, _) => p.N switch
            {
                1 => gate.Task,
                2 when c.Attempt == 1 => throw new InvalidOperationException("first attempt fails"),
                _ => Task.CompletedTask,
            },
        };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.Queues["m-a"] = new QueueOptions { Concurrency = 1, LocalDispatch = false };
            o.Queues["m-b"] = new QueueOptions { Concurrency = 1, LocalDispatch = false };
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
        }, probe: probe);
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        using var enqueued = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.enqueued");
        using var started = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.started");
        using var succeeded = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.succeeded");
        using var failed = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.failed");
        using var queueTime = new MetricCollector<double>(factory, "ScaleOps", "scaleops.jobs.queue_time");
        using var runTime = new MetricCollector<double>(factory, "ScaleOps", "scaleops.jobs.run_time");
        using var depth = new MetricCollector<long>(factory, "ScaleOps", "scaleops.jobs.queue.depth");

        // m-a: a job holds its only slot, two wait behind it. m-b: a job that fails once, then succeeds. m-c: no host
        // works it, three jobs wait.
        var held = (await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Queue = "m-a" }))!.Value;
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the m-a job to start");
        await host.Client.EnqueueManyAsync([new Ping(0), new Ping(0)], new JobOptions { Queue = "m-a" });
        var retried = (await host.Client.EnqueueAsync(new Ping(2), new JobOptions { Queue = "m-b", MaxAttempts = 2 }))!.Value;
        await host.Client.EnqueueManyAsync([new Other(1), new Other(2), new Other(3)], new JobOptions { Queue = "m-c" });
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {retried}") == "succeeded", "the m-b job to succeed");

        await TestSignal.UntilAsync(() => Task.FromResult(Depths(depth) is var d && d.GetValueOrDefault("m-a") == 2 && d.GetValueOrDefault("m-c") == 3),
            "the gauge to show 2 due jobs in m-a and 3 in m-c");

        // m-a drains: its gauge goes to 0; m-c's stays.
        gate.SetResult();
        await TestSignal.UntilAsync(async () => await database.ScalarAsync<long>(
            "SELECT count(*) FROM scaleops.jobs WHERE queue = 'm-a' AND state = 'succeeded'") == 3, "the m-a jobs to run");
        await TestSignal.UntilAsync(() => Task.FromResult(succeeded.GetMeasurementSnapshot().Sum(m => m.Value) == 4), "the outcomes to be counted");
        await TestSignal.UntilAsync(() => Task.FromResult(Depths(depth) is var d && d.TryGetValue("m-a", out var a) && a == 0 && d.GetValueOrDefault("m-c") == 3),
            "the gauge to show m-a drained (0) and still 3 due jobs in m-c");

        Assert.Equal((3L, 1L, 3L), (Sum(enqueued, "m-a"), Sum(enqueued, "m-b"), Sum(enqueued, "m-c")));
        Assert.Equal("test.other", Assert.Single(enqueued.GetMeasurementSnapshot(), m => Equals(m.Tags["queue"], "m-c")).Tags["kind"]);
        Assert.Equal((3L, 2L, 0L), (Sum(started, "m-a"), Sum(started, "m-b"), Sum(started, "m-c")));
        Assert.Equal((3L, 1L), (Sum(succeeded, "m-a"), Sum(succeeded, "m-b")));
        Assert.Equal((0L, 1L), (Sum(failed, "m-a"), Sum(failed, "m-b")));
        foreach (var collector in new[] { enqueued, started, succeeded, failed })
        {
            Assert.All(collector.GetMeasurementSnapshot(), m => Assert.Equal(["kind", "queue"], m.Tags.Keys.Order()));
        }

        foreach (var histogram in new[] { queueTime, runTime })
        {
            Assert.Equal((3, 2), (
                histogram.GetMeasurementSnapshot().Count(m => Equals(m.Tags["queue"], "m-a")),
                histogram.GetMeasurementSnapshot().Count(m => Equals(m.Tags["queue"], "m-b"))));
            Assert.All(histogram.GetMeasurementSnapshot(), m => Assert.True(m.Value >= 0));
            Assert.Equal("s", histogram.Instrument!.Unit);
        }

        Assert.All(depth.GetMeasurementSnapshot(), m => Assert.Equal(["queue"], m.Tags.Keys));
    }
}
