using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Jobs.TestWorker;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// A run_at no <see cref="DateTimeOffset"/> holds: ±infinity on a host with Npgsql's legacy switch
/// <c>Npgsql.DisableDateTimeInfinityConversions</c> on (Npgsql then refuses to read an infinity), or, on any host, a date
/// before year 1 or after 9999 written in SQL. A job due at one runs; one never due stays pending, listed with
/// <see cref="DateTimeOffset.MaxValue"/>; neither strands a fetch's batch or breaks the admin API.
/// </summary>
public class InfiniteRunAtTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    /// <summary>Enqueues <paramref name="runAts"/>.Length jobs of kind test.work in <paramref name="queue"/>, then sets their run_at in SQL ('': as enqueued).</summary>
    private async Task<long[]> EnqueueAsync(string queue, params string[] runAts)
    {
        await using (var client = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false))
        {
            await client.Client.EnqueueManyAsync(runAts.Select((_, i) => new Work(i, 0)).ToList(), new JobOptions { Queue = queue });
        }

        var ids = await database.ScalarAsync<long[]>($"SELECT array_agg(id ORDER BY id) FROM scaleops.jobs WHERE queue = '{queue}'");
        Assert.Equal(runAts.Length, ids.Length);
        for (var i = 0; i < ids.Length; i++)
        {
            if (runAts[i].Length > 0)
            {
                await database.ExecuteAsync($"UPDATE scaleops.jobs SET run_at = '{runAts[i]}' WHERE id = {ids[i]}");
            }
        }

        return ids;
    }

    private Task<string> StateAsync(long id) => database.ScalarAsync<string>($"SELECT state || '/' || attempt FROM scaleops.jobs WHERE id = {id}");

    [Fact]
    public async Task A_worker_with_infinity_conversions_disabled_runs_a_job_due_at_minus_infinity_with_its_batch_and_never_one_at_infinity()
    {
        await database.ExecuteAsync("CREATE TABLE work_runs (job_id bigint NOT NULL, n int NOT NULL, attempt int NOT NULL, pid int NOT NULL)");
        var ids = await EnqueueAsync("work", "-infinity", string.Empty, "infinity");

        // A lease longer than the test: a batch the fetch strands is not rescued meanwhile.
        await using var worker = await ChildWorker.StartWithSwitchAsync(
            database.ConnectionString, concurrency: 4, leaseSeconds: 600, "Npgsql.DisableDateTimeInfinityConversions");
        await TestSignal.UntilAsync(
            async () => await StateAsync(ids[0]) == "succeeded/1" && await StateAsync(ids[1]) == "succeeded/1",
            "the jobs due at -infinity and now to succeed at their first attempt");
        Assert.Equal(2, await database.ScalarAsync<long>($"SELECT count(*) FROM work_runs WHERE job_id IN ({ids[0]}, {ids[1]}) AND attempt = 1"));
        Assert.Equal("pending/0", await StateAsync(ids[2]));
    }

    [Fact]
    public async Task A_job_due_before_year_1_runs_with_its_batch_and_one_after_9999_stays_pending()
    {
        const string queue = "out-of-range";
        var ids = await EnqueueAsync(queue, "0100-01-01 00:00:00+00 BC", string.Empty, "20000-01-01 00:00:00+00", "-infinity", "infinity");
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.Queues[queue] = new QueueOptions { Concurrency = 8 },
            jobs: j => j.AddHandler<Work, NoWork>());
        await TestSignal.UntilAsync(
            async () => (await Task.WhenAll(StateAsync(ids[0]), StateAsync(ids[1]), StateAsync(ids[3]))).All(s => s == "succeeded/1"),
            "the jobs due before year 1, now and at -infinity to succeed at their first attempt");
        Assert.Equal("pending/0", await StateAsync(ids[2]));
        Assert.Equal("pending/0", await StateAsync(ids[4]));
    }

    [Fact]
    public async Task The_admin_API_lists_gets_and_counts_jobs_whose_run_at_no_DateTimeOffset_holds()
    {
        const string queue = "admin-out-of-range";
        var ids = await EnqueueAsync(queue, "0100-01-01 00:00:00+00 BC", "20000-01-01 00:00:00+00", "-infinity", "infinity", string.Empty);
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);

        var listed = await host.Admin.ListAsync(new JobQuery { Queue = queue });
        Assert.Equal(Enumerable.Reverse(ids), listed.Select(j => j.Id));
        Assert.Equal(
            [DateTimeOffset.MinValue, DateTimeOffset.MaxValue, DateTimeOffset.MinValue, DateTimeOffset.MaxValue],
            Enumerable.Reverse(listed).Take(4).Select(j => j.RunAt));
        Assert.All(listed, j => Assert.Equal(JobState.Pending, j.State));
        Assert.Equal(DateTimeOffset.MaxValue, (await host.Admin.GetAsync(ids[1]))!.RunAt);
        Assert.Equal(DateTimeOffset.MinValue, (await host.Admin.GetAsync(ids[0]))!.RunAt);

        var stats = Assert.Single(await host.Admin.GetQueueStatsAsync(), s => s.Queue == queue);
        Assert.Equal((3L, 2L), (stats.Available, stats.Scheduled));
        Assert.True(stats.OldestWait < TimeSpan.FromHours(1), $"OldestWait {stats.OldestWait}: counted from before the job existed");
    }

    private sealed class NoWork : IJobHandler<Work>
    {
        public Task HandleAsync(Work payload, JobContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
