using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>Leases between hosts whose clocks disagree: they expire on the database's clock only.</summary>
public partial class LifecycleTests
{
    [Theory]
    [InlineData(-60, 0, false)] // the worker's clock behind: its leases looked expired to the other hosts
    [InlineData(-60, 0, true)] // the same for a job it started itself (local dispatch's started insert)
    [InlineData(0, 60, false)] // the rescuer's clock ahead: the other hosts' leases looked expired to it
    [InlineData(0, 60, true)]
    public async Task A_live_job_is_never_rescued_for_a_skew_between_host_clocks(int workerSkew, int rescuerSkew, bool localDispatch)
    {
        // Leases were written and compared on each host's own clock: lease_until = the worker's now + LeaseDuration,
        // rescued when lease_until < the rescuer's now. A host 60 s behind the others wrote leases that had expired for
        // them already (and one ahead found every other host's leases expired): its live jobs were rescued at once and
        // run again elsewhere while their first run went on.
        var queue = $"skew-{(workerSkew < 0 ? "behind" : "ahead")}-{(localDispatch ? "local" : "fetch")}";
        var lease = TimeSpan.FromSeconds(4); // a heartbeat every 1.3 s: one may come 2.6 s late on a loaded machine
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new Probe
        {
            Behavior = async (_, _, token) =>
            {
                started.TrySetResult();
                await gate.Task.WaitAsync(token);
            },
        };
        void Configure(JobsOptions o)
        {
            o.DefaultQueue = queue;
            o.Queues[queue] = new QueueOptions { LocalDispatch = localDispatch };
            o.LeaseDuration = lease;
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
            o.PollInterval = TimeSpan.FromHours(1); // no poll's fetch in flight keeps the enqueue from starting the job itself
        }

        // The worker runs the job alone; then the second host starts, on the same queue, with a rescuer every 100 ms (a
        // job it rescued would wake it, and it would run the job again).
        await using var worker = await JobsHost.StartAsync(database.ConnectionString, Configure, probe: probe,
            services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromSeconds(workerSkew))));
        await worker.SettledProducerAsync(queue);
        var id = (await worker.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 3 }))!.Value;
        await started.Task.WaitAsync("the job to start on the worker");
        var leaseId = await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {id}");
        Assert.Equal(localDispatch, leaseId >= 1L << 32); // a random lease id: inserted started, not fetched
        await using var rescuer = await JobsHost.StartAsync(database.ConnectionString, Configure, probe: probe,
            services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromSeconds(rescuerSkew))));
        var since = await database.ScalarAsync<DateTime>("SELECT clock_timestamp()");

        // Past a whole lease on the database's clock: only the worker's heartbeats kept the job's lease, and the
        // rescuer looked at it some 50 times.
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<bool>(
                $"SELECT clock_timestamp() > '{since:O}'::timestamptz + interval '{lease.TotalSeconds + 1} s'"),
            "a lease duration and a second to pass on the database's clock");
        Assert.Equal(("running", leaseId, 1), (
            await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"),
            await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {id}"),
            probe.Count));

        gate.SetResult();
        await UntilStateAsync(id, "succeeded");
        Assert.Equal([(id, 1)], probe.Seen.Select(s => (s.JobId, s.Attempt)));
        Assert.Equal(1, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
    }
}
