using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>A job's timeout and the worker's stop together: "which token fired first decides".</summary>
public partial class LifecycleTests
{
    [Theory]
    [InlineData(true)]  // the stop fires first, the job's own timeout while the handler winds down: given back uncounted
    [InlineData(false)] // the timeout fires first, the stop while the handler winds down: failed as timed out
    public async Task Which_of_a_jobs_timeout_and_the_stop_fired_first_decides_its_outcome(bool stopFirst)
    {
        var queue = stopFirst ? "shutdown-then-timeout" : "timeout-then-shutdown";
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var windDown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe
        {
            Behavior = async (_, _, token) =>
            {
                try
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, token);
                }
                catch (OperationCanceledException)
                {
                    cancelled.TrySetResult();
                    await windDown.Task; // cleanup that outlasts the other token, within the grace
                    throw;
                }
            },
        };
        var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.ShutdownTimeout = TimeSpan.Zero;
            o.TimeoutGrace = TimeSpan.FromHours(1);
            o.LeaseDuration = TimeSpan.FromHours(1); // the clock moves minutes at once: no lease expires meanwhile
        }, probe: probe, services: s => s.AddSingleton<TimeProvider>(time));
        Task stopping;
        long? id;
        try
        {
            id = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 1, Timeout = TimeSpan.FromMinutes(1) });
            await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the job to start");
            if (stopFirst)
            {
                stopping = host.DisposeAsync().AsTask();
                await cancelled.Task.WaitAsync("the stop to cancel the handler");
                time.Advance(TimeSpan.FromMinutes(2)); // the job's timeout fires while its handler winds down
            }
            else
            {
                time.Advance(TimeSpan.FromMinutes(2));
                await cancelled.Task.WaitAsync("the timeout to cancel the handler");
                stopping = host.DisposeAsync().AsTask();
            }
        }
        finally
        {
            windDown.TrySetResult();
        }

        await stopping.WaitAsync("the host to stop");
        var state = await database.ScalarAsync<string>($"SELECT state || ' ' || attempt FROM scaleops.jobs WHERE id = {id}");
        Assert.True((stopFirst ? "pending 0" : "dead 1") == state,
            state + ": " + await database.ScalarAsync<string>($"SELECT coalesce(last_error, '') FROM scaleops.jobs WHERE id = {id}"));
    }
}
