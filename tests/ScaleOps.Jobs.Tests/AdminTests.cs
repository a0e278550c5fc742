using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Tests;

public class AdminTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    [Fact]
    public async Task Dead_jobs_can_be_listed_retried_and_discarded_and_pending_ones_cancelled()
    {
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);
        var ids = new long[5];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = (await host.Client.EnqueueAsync(new Ping(i), new JobOptions { Queue = "adm", Tenant = new TenantId("t" + (i % 2)) }))!.Value;
        }

        await database.ExecuteAsync(
            $"UPDATE scaleops.jobs SET state = 'dead', attempt = 25, finished_at = now(), last_error = 'broke' WHERE id IN ({ids[0]}, {ids[1]}, {ids[2]})");

        var dead = await host.Admin.ListAsync(new JobQuery { State = JobState.Dead, Queue = "adm" });
        Assert.Equal([ids[2], ids[1], ids[0]], dead.Select(j => j.Id));
        Assert.All(dead, j => Assert.Equal("broke", j.LastError));
        Assert.Equal([ids[2], ids[0]], (await host.Admin.ListAsync(new JobQuery { State = JobState.Dead, Tenant = new TenantId("t0") })).Select(j => j.Id));
        Assert.Equal([ids[1], ids[0]], (await host.Admin.ListAsync(new JobQuery { State = JobState.Dead, Before = ids[2], Limit = 2 })).Select(j => j.Id));

        var stats = Assert.Single(await host.Admin.GetQueueStatsAsync(), s => s.Queue == "adm");
        Assert.Equal(3, stats.Dead);
        Assert.Equal(2, stats.Available);

        Assert.True(await host.Admin.RetryDeadAsync(ids[0]));
        Assert.False(await host.Admin.RetryDeadAsync(ids[0]));
        var retried = await host.Admin.GetAsync(ids[0]);
        Assert.Equal(JobState.Pending, retried!.State);
        Assert.Equal(0, retried.Attempt);

        Assert.True(await host.Admin.DiscardDeadAsync(ids[1]));
        Assert.Null(await host.Admin.GetAsync(ids[1]));
        Assert.False(await host.Admin.DiscardDeadAsync(ids[3]));

        Assert.True(await host.Admin.CancelAsync(ids[3]));
        Assert.False(await host.Admin.CancelAsync(ids[3]));
        Assert.Equal(JobState.Cancelled, (await host.Admin.GetAsync(ids[3]))!.State);

        Assert.Equal(1, await host.Admin.RetryAllDeadAsync("adm"));
        Assert.Equal(0, await host.Admin.DiscardAllDeadAsync("adm"));
        stats = Assert.Single(await host.Admin.GetQueueStatsAsync(), s => s.Queue == "adm");
        Assert.Equal((3, 0, 1), (stats.Available, stats.Dead, stats.Cancelled));
    }

    [Fact]
    public async Task Retrying_all_dead_jobs_skips_those_whose_unique_key_is_live_again()
    {
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);
        var keyed = (await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Queue = "adm-unique", UniqueKey = "k1" }))!.Value;
        var other = (await host.Client.EnqueueAsync(new Ping(2), new JobOptions { Queue = "adm-unique", UniqueKey = "k2" }))!.Value;
        await database.ExecuteAsync($"UPDATE scaleops.jobs SET state = 'dead', attempt = 25, finished_at = now() WHERE id IN ({keyed}, {other})");
        var live = await host.Client.EnqueueAsync(new Ping(3), new JobOptions { Queue = "adm-unique", UniqueKey = "k1" });
        Assert.NotNull(live);

        Assert.Equal(1, await host.Admin.RetryAllDeadAsync("adm-unique"));
        Assert.Equal(JobState.Dead, (await host.Admin.GetAsync(keyed))!.State);
        Assert.Equal(JobState.Pending, (await host.Admin.GetAsync(other))!.State);
        Assert.Equal(JobState.Pending, (await host.Admin.GetAsync(live.Value))!.State);

        // One job by id still says why it cannot be retried.
        Assert.Contains("unique key", (await Assert.ThrowsAsync<InvalidOperationException>(() => host.Admin.RetryDeadAsync(keyed))).Message);

        // Two dead jobs with one key (the first died, an equal one was enqueued and died too): only the newest is retried.
        var first = (await host.Client.EnqueueAsync(new Ping(4), new JobOptions { Queue = "adm-unique-twice", UniqueKey = "k3" }))!.Value;
        await database.ExecuteAsync($"UPDATE scaleops.jobs SET state = 'dead', attempt = 25, finished_at = now() WHERE id = {first}");
        var second = (await host.Client.EnqueueAsync(new Ping(5), new JobOptions { Queue = "adm-unique-twice", UniqueKey = "k3" }))!.Value;
        await database.ExecuteAsync($"UPDATE scaleops.jobs SET state = 'dead', attempt = 25, finished_at = now() WHERE id = {second}");
        Assert.Equal(1, await host.Admin.RetryAllDeadAsync("adm-unique-twice"));
        Assert.Equal((JobState.Dead, JobState.Pending), ((await host.Admin.GetAsync(first))!.State, (await host.Admin.GetAsync(second))!.State));
    }

    [Fact]
    public async Task Bad_queries_are_rejected()
    {
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);
        Assert.Contains("JobQuery.Limit", (await Assert.ThrowsAsync<ArgumentException>(() => host.Admin.ListAsync(new JobQuery { Limit = 0 }))).Message);
        Assert.Contains("JobQuery.State", (await Assert.ThrowsAsync<ArgumentException>(() => host.Admin.ListAsync(new JobQuery { State = (JobState)42 }))).Message);
        Assert.Null(await host.Admin.GetAsync(-1));
    }

    [Fact]
    public async Task Admin_filters_postgresql_cannot_take_are_rejected_as_arguments_naming_them()
    {
        // A NUL reached PostgreSQL as a PostgresException (22021), a lone surrogate Npgsql's encoder: now rejected like
        // the same text in an enqueue's options.
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);
        async Task<ArgumentException> Rejects(Func<Task> call) => await Assert.ThrowsAsync<ArgumentException>(call);

        foreach (var bad in new[] { "a\0b", "a\uD800" })
        {
            var queue = await Rejects(() => host.Admin.ListAsync(new JobQuery { Queue = bad }));
            Assert.Contains("JobQuery.Queue", queue.Message);
            Assert.Equal("query", queue.ParamName);
            Assert.Contains("JobQuery.Kind", (await Rejects(() => host.Admin.ListAsync(new JobQuery { Kind = bad }))).Message);
            Assert.Equal("queue", (await Rejects(() => host.Admin.RetryAllDeadAsync(bad))).ParamName);
            Assert.Equal("queue", (await Rejects(() => host.Admin.DiscardAllDeadAsync(bad))).ParamName);
        }

        Assert.Contains("JobQuery.Tenant", (await Rejects(() => host.Admin.ListAsync(new JobQuery { Tenant = default(TenantId) }))).Message);
        Assert.Empty(await host.Admin.ListAsync(new JobQuery { Queue = "no such queue", Kind = "no such kind" }));
    }
}
