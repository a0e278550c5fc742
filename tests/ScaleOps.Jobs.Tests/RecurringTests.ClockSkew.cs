using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Takeover between hosts whose clocks disagree: when a definition was written and when a host with it was last seen
/// alive are both the database's clock, so a host's clock offset never decides whether a definition is alive.
/// </summary>
public partial class RecurringTests
{
    [Fact]
    public async Task A_quiet_host_takes_over_a_dead_definition_whose_hosts_clocks_were_skewed_against_each_other()
    {
        // Real hosts, RecurringTakeoverAfter 5 s. A (every 2 s, true clock) stores its definition; B1 (every 3 s, its
        // clock 10 minutes ahead) starts and wins; B2 (the same definition, its clock 10 minutes behind) starts; B1 stops,
        // B2 lives on (A stays quiet), then stops too. defined_at was B1's clock and B2's signs of life its own, 20
        // minutes earlier: definition_seen_at < defined_at read as "written by a build that never says it is alive", and
        // A never took the schedule over (nothing fired again until a host with B's definition started).
        const string Name = "skew-takeover-dead";
        const string Queue = "cron-skew-takeover-dead";
        var settings = new Dictionary<string, string?> { ["ScaleOps:Jobs:RecurringTakeoverAfter"] = "00:00:05" };
        void Configure(JobsOptions o) => o.DefaultQueue = Queue;
        void ScheduleA(IJobsBuilder jobs) => jobs.AddRecurring(Name, "*/2 * * * * *", new Ping(41), new JobOptions { Queue = Queue });
        void ScheduleB(IJobsBuilder jobs) => jobs.AddRecurring(Name, "*/3 * * * * *", new Ping(42), new JobOptions { Queue = Queue });
        Task<string> StoredCron() => database.ScalarAsync<string>($"SELECT coalesce((SELECT cron FROM scaleops.job_schedules WHERE name = '{Name}'), '')");
        Task<string> SeenAt() => database.ScalarAsync<string>(
            $"SELECT coalesce((SELECT definition_seen_at::text FROM scaleops.job_schedules WHERE name = '{Name}'), '')");

        await using var a = await JobsHost.StartAsync(database.ConnectionString, Configure, ScheduleA, settings: settings);
        await TestSignal.UntilAsync(async () => await StoredCron() != "", "A to store its definition");
        var aCron = await StoredCron();

        JobsHost? b1 = await JobsHost.StartAsync(database.ConnectionString, Configure, ScheduleB, settings: settings,
            services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromMinutes(10))));
        try
        {
            await TestSignal.UntilAsync(async () => await StoredCron() != aCron, "B1 to store its definition");
            await using var b2 = await JobsHost.StartAsync(database.ConnectionString, Configure, ScheduleB, settings: settings,
                services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromMinutes(-10))));
            await b1.DisposeAsync();
            b1 = null;
            var seen = await SeenAt();
            await TestSignal.UntilAsync(async () => await SeenAt() != seen, "B2 to say it is alive after B1 stopped");

            // While B2 lives (its clock 20 minutes behind the definer's), A never takes the schedule over: past the bound
            // and two of A's checks on the database's clock, the definition is still B's.
            var since = await database.ScalarAsync<DateTime>("SELECT clock_timestamp()");
            await TestSignal.UntilAsync(
                () => database.ScalarAsync<bool>($"SELECT clock_timestamp() > '{since:O}'::timestamptz + interval '7 s'"),
                "the bound and two of A's checks to pass on the database's clock");
            Assert.NotEqual(aCron, await StoredCron());
        }
        finally
        {
            if (b1 is not null)
            {
                await b1.DisposeAsync();
            }
        }

        await TestSignal.UntilAsync(async () => await StoredCron() == aCron, "A to take the dead definition over");
        Assert.Equal(0L, await database.ScalarAsync<long>(
            $"SELECT count(*) FROM (SELECT run_at FROM scaleops.jobs WHERE queue = '{Queue}' GROUP BY run_at HAVING count(*) > 1) d"));
    }
}
