using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Linq;
using System.Threading;
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
            .Where(a => a.OperationName == "ScaleOps.Jobs.Run" && Equals(a.GetTagItem("scaleops.jobs.id"), id.Value)
                && Equals(a.GetTagItem("scaleops.jobs.queue"), "w-traced")) // other test classes' job ids are the same numbers
            .OrderBy(a => (int)a.GetTagItem("scaleops.jobs.attempt")!).ToList();
    }

    [Fact]
    public async Task A_blocked_handler_the_watchdog_abandoned_ends_its_span_with_the_written_outcome_even_when_it_later_returns()
    {
        // The watchdog writes the attempt as a timeout while the handler's thread stays blocked; when the handler then
        // returns normally, its run must not be traced as Succeeded (the row says dead).
        using var recorder = new ActivityRecorder();
        var stopped = recorder.Stopped;
        using var blocker = new ManualResetEventSlim();
        var returned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe
        {
            Behavior = (p, _, _) =>
            {
                if (p.N == 1)
                {
                    blocker.Wait(TimeSpan.FromSeconds(20));
                    returned.TrySetResult();
                }

                return Task.CompletedTask;
            },
        };
        try
        {
            await using var host = await StartAsync("w-block-span", probe: probe);
            var id = (await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Timeout = TimeSpan.FromMilliseconds(200), MaxAttempts = 1 }))!.Value;
            await UntilStateAsync(id, "dead");
            Assert.Contains("abandoned", await ErrorOfAsync(id));

            blocker.Set();
            await returned.Task.WaitAsync("the blocked handler to return");
            await TestSignal.UntilAsync(() => Task.FromResult(Run() is not null), "the abandoned run's span to end");
            var run = Run()!;
            Assert.Equal(("Dead", ActivityStatusCode.Error), ((string)run.GetTagItem("scaleops.jobs.outcome")!, run.Status));
            Assert.Contains("abandoned", run.StatusDescription, StringComparison.Ordinal);
            Assert.Equal("dead", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));

            Activity? Run() => stopped.FirstOrDefault(a => a.OperationName == "ScaleOps.Jobs.Run" && Equals(a.GetTagItem("scaleops.jobs.id"), id)
                && Equals(a.GetTagItem("scaleops.jobs.queue"), "w-block-span")); // other test classes' job ids are the same numbers
        }
        finally
        {
            blocker.Set();
        }
    }

    [Fact]
    public async Task With_a_TimeoutGrace_of_zero_a_handler_that_ignores_its_timeout_is_abandoned_at_once()
    {
        var ignored = new TaskCompletionSource(); // never completes: the handler ignores its token
        var probe = new Probe { Behavior = (p, _, _) => p.N == 1 ? ignored.Task : Task.CompletedTask };
        await using var host = await StartAsync("w-grace-zero", o => o.TimeoutGrace = TimeSpan.Zero, probe);
        var id = (await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Timeout = TimeSpan.FromMilliseconds(200), MaxAttempts = 1 }))!.Value;
        await UntilStateAsync(id, "dead");
        Assert.Equal("Timed out after 00:00:00.2000000 and ignored cancellation for 00:00:00; abandoned.", await ErrorOfAsync(id));

        var next = (await host.Client.EnqueueAsync(new Ping(2)))!.Value; // the worker went on
        await UntilStateAsync(next, "succeeded");
    }
}
