using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Recurring schedules end to end: registered with <c>AddRecurring</c> on a real host, fired by its scheduler loop (on a
/// <see cref="FakeTimeProvider"/> where the test needs a chosen day), and run by its worker.
/// </summary>
public partial class RecurringTests
{
    private Task<long> JobsInAsync(string queue, string? state = null) => database.ScalarAsync<long>(
        $"SELECT count(*) FROM scaleops.jobs WHERE queue = '{queue}'" + (state is null ? "" : $" AND state = '{state}'"));

    [Fact]
    public async Task A_schedule_added_in_a_time_zone_off_UTC_with_a_tenant_runs_on_a_host_in_that_tenant()
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata");
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "cron-host-zone",
            jobs => jobs.AddRecurring("host-zone", "* * * * * *", new Ping(11),
                new JobOptions { Queue = "cron-host-zone", Tenant = new TenantId("t-cron") }, zone));

        await TestSignal.UntilAsync(async () => await JobsInAsync("cron-host-zone", "succeeded") >= 1, "the zoned schedule's job to run");
        var seen = host.Probe.Seen.First();
        Assert.Equal(11, seen.N);
        Assert.Equal("t-cron", seen.AmbientTenant);
        Assert.Equal("t-cron", seen.ContextTenant);
        Assert.Equal("Asia/Kolkata", await database.ScalarAsync<string>("SELECT time_zone FROM scaleops.job_schedules WHERE name = 'host-zone'"));
    }

    public static TheoryData<string, string, string, string[]> DaylightSaving => new()
    {
        // Spring forward in New York, 2026-03-08: 02:30 does not exist; the job is due at 03:00 EDT (07:00 UTC), once.
        { "dst-spring", "30 2 * * *", "2026-03-08T06:55:00Z", ["2026-03-08T07:00:00Z"] },
        // Fall back, 2026-11-01: 01:30 comes twice (EDT, then EST); the job runs once, at the first.
        { "dst-fall", "30 1 * * *", "2026-11-01T05:25:00Z", ["2026-11-01T05:30:00Z"] },
    };

    [Theory]
    [MemberData(nameof(DaylightSaving))]
    public async Task A_schedule_across_a_daylight_saving_change_fires_on_a_host_once_at_the_occurrence(
        string name, string cron, string start, string[] expected)
    {
        // A beacon schedule in UTC 70 minutes after the start: the scheduler steps every schedule in each pass, so once
        // the beacon has fired, the pass at that time has looked at the New York schedule too (past both 01:30s, or 03:00).
        var queue = "cron-" + name;
        var time = new FakeTimeProvider(DateTimeOffset.Parse(start));
        var zone = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        var beaconTime = DateTimeOffset.Parse(start).AddMinutes(70);
        // The clock moves 30 s at each check: with the default lease (30 s) a fired job whose outcome was not written
        // yet (a loaded machine) had its lease expire on the fake clock, and the rescuer ran it again at a later run_at.
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
            {
                o.DefaultQueue = queue;
                o.LeaseDuration = TimeSpan.FromHours(1);
            },
            jobs => jobs
                .AddRecurring(name, cron, new Ping(13), new JobOptions { Queue = queue }, zone)
                .AddRecurring(name + "-beacon", $"{beaconTime.Minute} {beaconTime.Hour} {beaconTime.Day} {beaconTime.Month} *", new Ping(14), new JobOptions { Queue = queue + "-beacon" }),
            services: s => s.AddSingleton<TimeProvider>(time));

        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.job_schedules WHERE name IN ('{name}', '{name}-beacon')") == 2,
            "the host to start both schedules");
        await TestSignal.UntilAsync(async () =>
        {
            if (await JobsInAsync(queue + "-beacon") > 0)
            {
                return true;
            }

            time.Advance(TimeSpan.FromSeconds(30));
            return false;
        }, "the clock to pass the beacon's due time");

        var due = await Schedulers.DueTimesAsync(database.DataSource, queue);
        Assert.Equal(expected.Select(e => DateTimeOffset.Parse(e)).ToList(), due);
        await TestSignal.UntilAsync(async () => await JobsInAsync(queue, "succeeded") == expected.Length, "the recurring job to run");
    }

    [Fact]
    public async Task A_host_that_only_enqueues_fires_its_recurring_schedules()
    {
        // RunWorker = false is "hosts that only enqueue"; a recurring schedule is an enqueue at each due time.
        await using var enqueuer = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "cron-enqueuer";
            o.RunWorker = false;
        }, jobs => jobs.AddRecurring("enqueue-only", "* * * * * *", new Ping(12), new JobOptions { Queue = "cron-enqueuer" }));

        await TestSignal.UntilAsync(async () => await JobsInAsync("cron-enqueuer") >= 1, "the enqueue-only host to fire its schedule");
        Assert.Equal(0L, await JobsInAsync("cron-enqueuer", "succeeded")); // no worker here: the jobs wait for one

        // A worker host without the schedule runs what it fired.
        await using var worker = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "cron-enqueuer");
        await TestSignal.UntilAsync(async () => await JobsInAsync("cron-enqueuer", "succeeded") >= 1, "a worker to run the fired job");
        Assert.All(worker.Probe.Seen, s => Assert.Equal(12, s.N));
    }

    [Fact]
    public async Task A_due_time_whose_unique_keyed_job_is_still_running_is_skipped_not_queued_twice()
    {
        // JobOptions.UniqueKey on a schedule: a due time that comes while the previous one's job still runs is dropped
        // as a duplicate (the README's unique key: while an equal job is pending or running), and fires again once it ended.
        var gate = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 21 ? gate.Task : Task.CompletedTask };
        try
        {
            await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "cron-unique-running",
                jobs => jobs.AddRecurring("unique-running", "* * * * * *", new Ping(21),
                    new JobOptions { Queue = "cron-unique-running", UniqueKey = "one-at-a-time" }), probe);
            await TestSignal.UntilAsync(async () => await JobsInAsync("cron-unique-running", "running") == 1, "the first due time's job to run");
            var first = await database.ScalarAsync<DateTime>("SELECT run_at FROM scaleops.jobs WHERE queue = 'cron-unique-running'");

            // Three more due times fired (the schedule's row moves on at each) while the first job runs.
            await TestSignal.UntilAsync(
                () => database.ScalarAsync<bool>(
                    $"SELECT last_due_at >= '{first:O}'::timestamptz + interval '3 seconds' FROM scaleops.job_schedules WHERE name = 'unique-running'"),
                "three more due times to fire");
            Assert.Equal(1, await JobsInAsync("cron-unique-running"));

            gate.SetResult();
            await TestSignal.UntilAsync(async () => await JobsInAsync("cron-unique-running", "succeeded") >= 2, "a later due time's job to run once the first ended");
        }
        finally
        {
            gate.TrySetResult();
        }
    }

    [Fact]
    public async Task A_host_left_quiet_by_a_rollback_takes_its_schedule_back_with_the_bound_from_configuration()
    {
        // Real hosts and clocks: the old host fires every 2 s; a new host (every 3 s) starts and wins; the rollback stops
        // it. RecurringTakeoverAfter comes from configuration (5 s), so the old host's loop checks every second and takes
        // the schedule back once the new host has not been seen for 5 s.
        const string Queue = "cron-host-takeover";
        var settings = new Dictionary<string, string?> { ["ScaleOps:Jobs:RecurringTakeoverAfter"] = "00:00:05" };
        void Configure(JobsOptions o) => o.DefaultQueue = Queue;
        Task<string> StoredCron() => database.ScalarAsync<string>("SELECT coalesce(cron, '') FROM scaleops.job_schedules WHERE name = 'host-takeover'");
        Task<long> FiredAfterDefinedBy(int n) => database.ScalarAsync<long>(
            $"SELECT count(*) FROM scaleops.jobs WHERE queue = '{Queue}' AND payload->>'n' = '{n}' " +
            "AND run_at > (SELECT defined_at FROM scaleops.job_schedules WHERE name = 'host-takeover')");

        await using var old = await JobsHost.StartAsync(database.ConnectionString, Configure,
            jobs => jobs.AddRecurring("host-takeover", "*/2 * * * * *", new Ping(31), new JobOptions { Queue = Queue }), settings: settings);
        await TestSignal.UntilAsync(async () => await database.ScalarAsync<long>(
            "SELECT count(*) FROM scaleops.job_schedules WHERE name = 'host-takeover'") == 1, "the old host to store its definition");
        var oldCron = await StoredCron();

        var @new = await JobsHost.StartAsync(database.ConnectionString, Configure,
            jobs => jobs.AddRecurring("host-takeover", "*/3 * * * * *", new Ping(32), new JobOptions { Queue = Queue }), settings: settings);
        await using (@new)
        {
            await TestSignal.UntilAsync(async () => await StoredCron() != oldCron && await FiredAfterDefinedBy(32) >= 1, "the new host to win and fire");
        }

        await TestSignal.UntilAsync(async () => await StoredCron() == oldCron, "the old host to take the schedule back");
        await TestSignal.UntilAsync(async () => await FiredAfterDefinedBy(31) >= 2, "the old host to fire on its timetable again");
        Assert.Equal(0L, await database.ScalarAsync<long>(
            $"SELECT count(*) FROM (SELECT run_at FROM scaleops.jobs WHERE queue = '{Queue}' GROUP BY run_at HAVING count(*) > 1) d"));
        Assert.Equal(0L, await FiredAfterDefinedBy(32));
    }
}
