using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Jobs.TestWorker;
using ScaleOps.TestInfrastructure;
using Xunit.Abstractions;

namespace ScaleOps.Jobs.Tests.Reliability;

public class CrashTests(JobsDatabase database, ITestOutputHelper output) : IClassFixture<JobsDatabase>
{
    [Fact]
    public async Task A_worker_killed_with_SIGKILL_mid_batch_loses_no_job_and_a_second_worker_finishes_them()
    {
        const int N = 2000;
        await database.ExecuteAsync("CREATE TABLE work_runs (job_id bigint NOT NULL, n int NOT NULL, attempt int NOT NULL, pid int NOT NULL)");
        await using (var client = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false))
        {
            Assert.Equal(N, await client.Client.EnqueueManyAsync(
                Enumerable.Range(0, N).Select(i => new Work(i, 20)).ToList(), new JobOptions { Queue = "work" }));
        }

        await using var first = await ChildWorker.StartAsync(database.ConnectionString, concurrency: 20, leaseSeconds: 5);
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM work_runs") >= N / 4, "the first worker to be a quarter through");
        await first.KillAsync();
        var runningAtKill = await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE state = 'running'");

        // Started, then given back by the rescuer because a heartbeat came later than the lease (a loaded machine).
        var rescuedAtKill = await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE state = 'pending' AND attempt > 0");
        var doneAtKill = await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE state = 'succeeded'");
        Assert.True(runningAtKill > 0, "the kill should leave jobs running (mid-batch)");
        Assert.True(doneAtKill < N, "the kill should come before the end");

        await using var second = await ChildWorker.StartAsync(database.ConnectionString, concurrency: 20, leaseSeconds: 2);
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE state = 'succeeded'") == N,
            "the second worker to finish every job", TimeSpan.FromSeconds(120));

        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE state <> 'succeeded'"));
        Assert.Equal((long)N, await database.ScalarAsync<long>("SELECT count(DISTINCT job_id) FROM work_runs"));
        var twice = await database.ScalarAsync<long>("SELECT count(*) FROM (SELECT job_id FROM work_runs GROUP BY job_id HAVING count(*) > 1) d");
        var bySecond = await database.ScalarAsync<long>($"SELECT count(DISTINCT job_id) FROM work_runs WHERE pid = {second.ProcessId}");

        // A job the killed worker had started runs again on the second worker. A job may also run twice on the first
        // worker alone, if the loaded machine delayed a heartbeat past the lease (at-least-once, by design): count both.
        var acrossKill = await database.ScalarAsync<long>(
            $"SELECT count(*) FROM (SELECT job_id FROM work_runs GROUP BY job_id HAVING bool_or(pid = {first.ProcessId}) AND bool_or(pid = {second.ProcessId})) d");
        output.WriteLine(
            $"{N} jobs; SIGKILL with {doneAtKill} done, {runningAtKill} running and {rescuedAtKill} rescued; the second worker ran {bySecond}; "
            + $"lost 0; ran twice {twice} ({acrossKill} started by the killed worker and run again by the second; the rest "
            + "rescued after a heartbeat came later than the lease: at-least-once).");
        Assert.True(
            acrossKill <= runningAtKill + rescuedAtKill,
            $"only jobs in flight at the kill (or already rescued) may run again: {acrossKill} did, {runningAtKill} were running, {rescuedAtKill} rescued");
    }

    [Fact]
    public async Task Workers_recover_by_themselves_when_PostgreSQL_restarts()
    {
        await using var pg = await PrivatePostgres.StartAsync();
        var probe = new Probe { Behavior = (_, _, token) => Task.Delay(2, token) };
        await using var host = await JobsHost.StartAsync(pg.ConnectionString, o =>
        {
            o.DefaultQueue = "restart";
            o.PollInterval = TimeSpan.FromHours(1);
            o.Queues["restart"] = new QueueOptions { Concurrency = 10 };
        }, probe: probe);
        await using var admin = Npgsql.NpgsqlDataSource.Create(pg.ConnectionString);
        async Task<long> SucceededAsync()
        {
            try
            {
                await using var command = admin.CreateCommand("SELECT count(*) FROM scaleops.jobs WHERE state = 'succeeded'");
                return (long)(await command.ExecuteScalarAsync())!;
            }
            catch (Npgsql.NpgsqlException)
            {
                return -1;
            }
        }

        await host.Client.EnqueueManyAsync(Enumerable.Range(0, 3000).Select(i => new Ping(i)).ToList());
        await TestSignal.UntilAsync(async () => await SucceededAsync() >= 300, "300 jobs to succeed before the restart");
        var beforeRestart = await SucceededAsync();
        await pg.RestartAsync();
        Assert.True(beforeRestart < 3000, "the restart should come before the end");

        // New work after the restart reaches the workers through the re-established LISTEN connection.
        await TestSignal.UntilAsync(async () =>
        {
            try
            {
                await host.Client.EnqueueManyAsync(Enumerable.Range(10_000, 100).Select(i => new Ping(i)).ToList());
                return true;
            }
            catch (Npgsql.NpgsqlException)
            {
                return false;
            }
        }, "an enqueue to succeed after the restart");
        await TestSignal.UntilAsync(async () => await SucceededAsync() == 3100, "all 3,100 jobs to succeed after the restart", TimeSpan.FromSeconds(90));
        output.WriteLine($"{beforeRestart} of 3,000 had succeeded when PostgreSQL restarted; all 3,100 succeeded afterwards; {probe.Count} attempts ran.");
    }
}
