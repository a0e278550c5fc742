using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Jobs.TestWorker;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests.Reliability;

/// <summary>
/// <c>ScaleOps:Jobs:LeaseDuration</c> and <c>ScaleOps:Jobs:RescueInterval</c> from configuration (environment variables
/// of a child worker, in-memory keys of a host): a worker killed with jobs running has them run again by another host
/// once the leases it took, as long as its configuration says, expire.
/// </summary>
public class ConfiguredLeaseTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    [Fact]
    public async Task A_killed_workers_jobs_run_again_on_another_host_after_the_configured_lease()
    {
        const int N = 3;
        await database.ExecuteAsync("CREATE TABLE work_runs (job_id bigint NOT NULL, n int NOT NULL, attempt int NOT NULL, pid int NOT NULL)");
        await using (var client = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false))
        {
            await client.Client.EnqueueManyAsync(Enumerable.Range(0, N).Select(i => new Work(i, 60_000)).ToList(), new JobOptions { Queue = "work" });
        }

        // The first worker takes every job with the configured 4 s lease (30 s by default), renewed by its heartbeats.
        await using var first = await ChildWorker.StartConfiguredAsync(database.ConnectionString, concurrency: N, new Dictionary<string, string>
        {
            ["ScaleOps__Jobs__LeaseDuration"] = "00:00:04",
            ["ScaleOps__Jobs__RescueInterval"] = "00:00:00.500",
        });
        await TestSignal.UntilAsync(async () => await database.ScalarAsync<long>("SELECT count(*) FROM work_runs") == N, "the first worker to start every job");
        Assert.True(
            await database.ScalarAsync<bool>("SELECT bool_and(lease_until <= clock_timestamp() + interval '4 seconds') FROM scaleops.jobs WHERE state = 'running'"),
            "a lease of the first worker ends more than the configured 4 s ahead");

        // Killed: no heartbeat renews its leases, nothing gives its jobs back.
        await first.KillAsync();
        var expiry = await database.ScalarAsync<DateTime>("SELECT max(lease_until) FROM scaleops.jobs WHERE state = 'running'");

        var probe = new Probe();
        await using var second = await JobsHost.StartAsync(database.ConnectionString, o => o.ShutdownTimeout = TimeSpan.Zero, probe: probe,
            jobs: j => j.AddHandler<Work, WorkHandler>(), settings: new Dictionary<string, string?>
            {
                ["ScaleOps:Jobs:Queues:work:Concurrency"] = "3",
                ["ScaleOps:Jobs:LeaseDuration"] = "00:00:04",
                ["ScaleOps:Jobs:RescueInterval"] = "00:00:00.200",
            });
        var options = second.Services.GetRequiredService<IOptions<JobsOptions>>().Value;
        Assert.Equal((TimeSpan.FromSeconds(4), TimeSpan.FromMilliseconds(200)), (options.LeaseDuration, options.RescueInterval));

        // The second host rescues them once the leases expire and runs each again, as its attempt 2.
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>($"SELECT count(DISTINCT job_id) FROM work_runs WHERE pid = {Environment.ProcessId} AND attempt = 2") == N,
            "the second host to run the killed worker's jobs again");
        Assert.Equal((long)N, await database.ScalarAsync<long>(
            "SELECT count(*) FROM scaleops.jobs WHERE state = 'running' AND attempt = 2 AND last_error LIKE '%stopped renewing the lease%'"));
        Assert.True(
            await database.ScalarAsync<bool>("SELECT bool_and(lease_until <= clock_timestamp() + interval '4 seconds') FROM scaleops.jobs"),
            "a lease of the second host ends more than the configured 4 s ahead");
        Assert.True(
            await database.ScalarAsync<bool>($"SELECT bool_and(attempted_at >= '{expiry:O}'::timestamptz) FROM scaleops.jobs"),
            "a job ran again before the killed worker's lease expired");
    }
}
