using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// The README's retry and retention options end to end. Retries run on a <see cref="FakeTimeProvider"/> the whole host
/// runs on (enqueue, fetch, completion and the maintenance loops), so due times are exact, not raced against a clock.
/// Retention judges ages on the database's clock (finished_at and the cutoff), so its tests age the rows in SQL.
/// </summary>
public partial class RetryAndRetentionTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private static FakeTimeProvider Clock()
    {
        var now = DateTimeOffset.UtcNow;
        return new FakeTimeProvider(now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond))); // PostgreSQL keeps microseconds
    }

    private Task<long> CountAsync(string where) => database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.jobs WHERE {where}");

    private Task<bool> ExistsAsync(long id) => database.ScalarAsync<bool>($"SELECT EXISTS (SELECT 1 FROM scaleops.jobs WHERE id = {id})");

    /// <summary>
    /// Jobs of the queue on their 10th attempt: enqueued an hour ahead, their attempt set to 9 in the row, then the
    /// clock moved on an hour (the poll's timer fires) so the worker fetches them as attempt 10, which fails.
    /// </summary>
    private async Task<(List<long> Ids, DateTimeOffset FailedAt)> FailTenthAttemptsAsync(JobsHost host, FakeTimeProvider time, string queue, int count)
    {
        var ids = new List<long>();
        for (var i = 0; i < count; i++)
        {
            ids.Add((await host.Client.EnqueueAsync(new Ping(i), new JobOptions { Queue = queue, Delay = TimeSpan.FromHours(1) }))!.Value);
        }

        await database.ExecuteAsync($"UPDATE scaleops.jobs SET attempt = 9 WHERE queue = '{queue}'");
        time.Advance(TimeSpan.FromHours(1));
        var failedAt = time.GetUtcNow();

        // The poll's timer fires only if the producer was already waiting on it: one still busy with its first fetch when
        // the clock moved sets its next poll an interval past the new time, which this clock never reaches (seen: the
        // wait below timed out in 1 of 3 loaded runs). A wake-up on the queue's channel makes it look either way.
        await database.ExecuteAsync($"SELECT pg_notify('scaleops_jobs:scaleops', '{queue}')");
        // Failed: pending again after attempt 10, or (due at once with RetryBaseDelay 0) already fetched again as attempt
        // 11, which the producer may do before this poll looks; attempt 10 always fails.
        await TestSignal.UntilAsync(
            async () => await CountAsync($"queue = '{queue}' AND ((state = 'pending' AND attempt = 10) OR attempt >= 11)") == count,
            $"the {queue} jobs' 10th attempts to fail");
        return (ids, failedAt);
    }

    [Fact]
    public async Task Retries_are_never_later_than_RetryMaxDelay_and_run_then()
    {
        // Backoff 1 s * 2^9 on the 10th attempt, capped at 2 s: each retry is due 1.5-2 s after the failure (75% to
        // 100% of the cap), never later, whatever the jitter; twenty jobs, so a jitter past the cap would show.
        var time = Clock();
        var probe = new Probe { Behavior = (_, c, _) => c.Attempt == 10 ? throw new InvalidOperationException("attempt 10 fails") : Task.CompletedTask };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.Queues["retry-cap"] = new QueueOptions { Concurrency = 20, LocalDispatch = false };
            o.RetryBaseDelay = TimeSpan.FromSeconds(1);
            o.RetryMaxDelay = TimeSpan.FromSeconds(2);
            o.LeaseDuration = TimeSpan.FromHours(1);
        }, probe: probe, services: s => s.AddSingleton<TimeProvider>(time));

        var (ids, failedAt) = await FailTenthAttemptsAsync(host, time, "retry-cap", 20);
        var delays = new List<TimeSpan>();
        foreach (var id in ids)
        {
            delays.Add(await database.ScalarAsync<DateTime>($"SELECT run_at FROM scaleops.jobs WHERE id = {id}") - failedAt.UtcDateTime);
        }

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(2)));

        // Due at the cap: they run again (attempt 11) and succeed. As above, a producer still busy when the clock moved
        // would wait for a poll this clock never reaches (seen once in a full run): the queue's channel wakes it.
        time.Advance(TimeSpan.FromSeconds(2));
        await database.ExecuteAsync("SELECT pg_notify('scaleops_jobs:scaleops', 'retry-cap')");
        await TestSignal.UntilAsync(async () => await CountAsync("queue = 'retry-cap' AND state = 'succeeded'") == 20, "the retries to run");
        Assert.Equal(20L, await CountAsync("queue = 'retry-cap' AND attempt = 11"));
    }

    [Fact]
    public async Task A_RetryBaseDelay_of_zero_makes_a_failed_job_due_at_once()
    {
        var time = Clock();
        var probe = new Probe { Behavior = (_, c, _) => c.Attempt == 10 ? throw new InvalidOperationException("attempt 10 fails") : Task.CompletedTask };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.Queues["retry-zero"] = new QueueOptions { Concurrency = 5, LocalDispatch = false };
            o.RetryBaseDelay = TimeSpan.Zero;
            o.RetryMaxDelay = TimeSpan.FromHours(1);
            o.LeaseDuration = TimeSpan.FromHours(1);
        }, probe: probe, services: s => s.AddSingleton<TimeProvider>(time));

        var (ids, failedAt) = await FailTenthAttemptsAsync(host, time, "retry-zero", 5);
        foreach (var id in ids)
        {
            Assert.Equal(failedAt.UtcDateTime, await database.ScalarAsync<DateTime>($"SELECT run_at FROM scaleops.jobs WHERE id = {id}"));
        }

        // Due now: the next poll runs them, with no time for a backoff to pass.
        time.Advance(TimeSpan.FromMilliseconds(250));
        await database.ExecuteAsync("SELECT pg_notify('scaleops_jobs:scaleops', 'retry-zero')");
        await TestSignal.UntilAsync(async () => await CountAsync("queue = 'retry-zero' AND state = 'succeeded'") == 5, "the retries to run");
    }

    [Fact]
    public async Task Retention_from_configuration_deletes_dead_jobs_after_DeadRetention_and_cancelled_ones_after_SucceededRetention()
    {
        // finished_at and the retention's cutoff are the database's clock (a host's clock may be minutes off the other
        // hosts'), so a fake host clock no longer ages a finished job: the test ages the rows themselves, on that clock.
        var probe = new Probe { Behavior = (p, _, _) => p.N < 0 ? throw new InvalidOperationException("fails") : Task.CompletedTask };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, probe: probe, settings: new Dictionary<string, string?>
        {
            ["ScaleOps:Jobs:DefaultQueue"] = "retention",
            ["ScaleOps:Jobs:MaxAttempts"] = "1",
            ["ScaleOps:Jobs:SucceededRetention"] = "00:12:00",
            ["ScaleOps:Jobs:DeadRetention"] = "00:14:00",
            ["ScaleOps:Jobs:RetentionInterval"] = "00:00:01",
        });

        // One job of each finished state.
        async Task<(long Succeeded, long Dead, long Cancelled)> FinishedAsync()
        {
            var succeeded = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
            var dead = (await host.Client.EnqueueAsync(new Ping(-1)))!.Value;
            var cancelled = (await host.Client.EnqueueAsync(new Ping(2), new JobOptions { Delay = TimeSpan.FromDays(1) }))!.Value;
            Assert.True(await host.Admin.CancelAsync(cancelled));
            await TestSignal.UntilAsync(
                async () => (await host.Admin.GetAsync(succeeded))?.State == JobState.Succeeded && (await host.Admin.GetAsync(dead))?.State == JobState.Dead,
                "a job to succeed and one to die");
            return (succeeded, dead, cancelled);
        }

        // Makes jobs have finished longer ago by the given time, in one statement (retention runs meanwhile).
        Task AgeAsync(TimeSpan by, params (long Succeeded, long Dead, long Cancelled)[] sets) => database.ExecuteAsync(
            $"UPDATE scaleops.jobs SET finished_at = finished_at - interval '{by.TotalSeconds} seconds' WHERE id IN " +
            $"({string.Join(", ", sets.SelectMany(s => new[] { s.Succeeded, s.Dead, s.Cancelled }))})");

        var first = await FinishedAsync();
        var second = await FinishedAsync();
        var older = await FinishedAsync();

        // The first jobs finished 13 min ago, the second ones 3 min ago, the older ones 15 min ago: the first succeeded and
        // cancelled jobs are past SucceededRetention (12 min), the first dead one is not past DeadRetention (14 min), the
        // older dead one is. The statement that deleted the older dead job looked at the first one too.
        await AgeAsync(TimeSpan.FromMinutes(13), first);
        await AgeAsync(TimeSpan.FromMinutes(3), second);
        await AgeAsync(TimeSpan.FromMinutes(15), older);
        await TestSignal.UntilAsync(
            async () => !await ExistsAsync(first.Succeeded) && !await ExistsAsync(first.Cancelled) && !await ExistsAsync(older.Dead),
            "retention to delete the first succeeded and cancelled jobs and the older dead one");
        Assert.True(await ExistsAsync(first.Dead), "a dead job was deleted 13 min after it died, DeadRetention being 14 min");

        // 1 min 1 s later: the first dead job goes (14 min 1 s); everything of the second set stays (4 min 1 s).
        await AgeAsync(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1), first, second);
        await TestSignal.UntilAsync(async () => !await ExistsAsync(first.Dead), "retention to delete the first dead job");
        Assert.True(await ExistsAsync(second.Succeeded) && await ExistsAsync(second.Dead) && await ExistsAsync(second.Cancelled),
            "a job finished 4 min ago was deleted");
    }
}
