using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

public class RecurringTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    [Fact]
    public async Task Two_hosts_with_the_same_schedule_fire_each_due_time_exactly_once()
    {
        void Configure(JobsOptions o) => o.DefaultQueue = "cron";
        void Schedule(IJobsBuilder jobs) => jobs.AddRecurring("every-second", "* * * * * *", new Ping(7), new JobOptions { Queue = "cron" });
        await using var first = await JobsHost.StartAsync(database.ConnectionString, Configure, Schedule);
        await using var second = await JobsHost.StartAsync(database.ConnectionString, Configure, Schedule);

        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'cron' AND state = 'succeeded'") >= 4,
            "four due times to fire and run");

        Assert.Equal(0L, await database.ScalarAsync<long>(
            "SELECT count(*) FROM (SELECT run_at FROM scaleops.jobs WHERE queue = 'cron' GROUP BY run_at HAVING count(*) > 1) d"));
        Assert.Equal(0L, await database.ScalarAsync<long>(
            "SELECT count(*) FROM scaleops.jobs WHERE queue = 'cron' AND run_at <> date_trunc('second', run_at)"));
        Assert.All(first.Probe.Seen.Concat(second.Probe.Seen), s => Assert.Equal(7, s.N));
    }

    [Fact]
    public void Bad_schedules_are_rejected_when_registered()
    {
        var jobs = new ServiceCollection().AddScaleOps().AddJobs();
        Assert.Contains("is invalid", Assert.Throws<ArgumentException>(() => jobs.AddRecurring("x", "not cron", new Ping(1))).Message);
        Assert.Contains("name", Assert.Throws<ArgumentException>(() => jobs.AddRecurring(" ", "* * * * *", new Ping(1))).Message);
        jobs.AddRecurring("daily", "0 3 * * *", new Ping(1));
        Assert.Contains("already registered", Assert.Throws<ArgumentException>(() => jobs.AddRecurring("daily", "0 4 * * *", new Ping(1))).Message);
        Assert.Contains("JobOptions.MaxAttempts",
            Assert.Throws<ArgumentException>(() => jobs.AddRecurring("bad-options", "0 4 * * *", new Ping(1), new JobOptions { MaxAttempts = -1 })).Message);

        // Text the scheduler would send on every due time and PostgreSQL or Npgsql cannot take: rejected up front.
        Assert.Contains("lone UTF-16 surrogate", Assert.Throws<ArgumentException>(() => jobs.AddRecurring("bad \uD83D", "0 4 * * *", new Ping(1))).Message);
        Assert.Contains("JobOptions.ConcurrencyKey", Assert.Throws<ArgumentException>(
            () => jobs.AddRecurring("bad-key", "0 4 * * *", new Ping(1), new JobOptions { ConcurrencyKey = "host\0" })).Message);
        Assert.Contains("JobOptions.Queue", Assert.Throws<ArgumentException>(
            () => jobs.AddRecurring("bad-queue", "0 4 * * *", new Ping(1), new JobOptions { Queue = "q\uDE00" })).Message);
    }
}
