using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

public partial class WorkerTests
{
    [Fact]
    public async Task Each_run_is_a_span_on_the_ScaleOps_activity_source_and_the_handlers_spans_are_its_children()
    {
        using var recorder = new ActivityRecorder();
        var stopped = recorder.Stopped;
        var parents = new ConcurrentDictionary<int, ActivitySpanId>();
        var probe = new Probe
        {
            Behavior = (p, c, _) =>
            {
                parents[c.Attempt] = Activity.Current?.SpanId ?? default;
                return c.Attempt < 2 ? throw new InvalidOperationException("boom") : Task.CompletedTask;
            },
        };
        await using var host = await StartAsync("w-traced", probe: probe);
        var id = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Tenant = new TenantId("acme") });
        await UntilStateAsync(id!.Value, "succeeded");
        await TestSignal.UntilAsync(() => Task.FromResult(Runs().Count == 2), "both runs' spans to end");

        var runs = Runs();
        Assert.Equal([1, 2], runs.Select(r => (int)r.GetTagItem("scaleops.jobs.attempt")!));
        Assert.All(runs, r => Assert.Equal(ActivityKind.Consumer, r.Kind));
        Assert.All(runs, r => Assert.Equal("acme", r.GetTagItem("scaleops.tenant")));
        Assert.All(runs, r => Assert.Equal("w-traced", r.GetTagItem("scaleops.jobs.queue")));
        Assert.Equal(("Retry", ActivityStatusCode.Error), ((string)runs[0].GetTagItem("scaleops.jobs.outcome")!, runs[0].Status));
        Assert.Contains("boom", runs[0].StatusDescription, StringComparison.Ordinal);
        Assert.Equal(("Succeeded", ActivityStatusCode.Unset), ((string)runs[1].GetTagItem("scaleops.jobs.outcome")!, runs[1].Status));
        Assert.Equal(runs.Select(r => r.SpanId), [parents[1], parents[2]]); // the handler ran inside its run's span

        System.Collections.Generic.List<Activity> Runs() => stopped
            .Where(a => a.OperationName == "ScaleOps.Jobs.Run" && Equals(a.GetTagItem("scaleops.jobs.id"), id.Value))
            .OrderBy(a => (int)a.GetTagItem("scaleops.jobs.attempt")!).ToList();
    }
}
