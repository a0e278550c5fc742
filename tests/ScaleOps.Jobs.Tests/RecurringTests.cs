using System;
using System.Linq;
using System.Threading.Tasks;
using Cronos;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

public partial class RecurringTests(JobsDatabase database) : IClassFixture<JobsDatabase>
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
    public async Task A_database_error_on_the_first_schedule_read_is_retried_and_the_schedule_runs()
    {
        // The schedules table is replaced by a view over a function that fails (like a failover or an exhausted pool
        // would); the function counts its calls in a sequence, which the error does not roll back, so the test knows
        // the scheduler's first read failed before the database heals.
        const string Restore = """
            DO $$ BEGIN
                IF to_regclass('scaleops.job_schedules_away') IS NOT NULL THEN
                    DROP VIEW IF EXISTS scaleops.job_schedules;
                    ALTER TABLE scaleops.job_schedules_away RENAME TO job_schedules;
                END IF;
            END $$;
            DROP FUNCTION IF EXISTS scaleops.schedules_unavailable();
            """;
        await database.ExecuteAsync("""
            CREATE SEQUENCE scaleops.schedule_reads;
            CREATE FUNCTION scaleops.schedules_unavailable()
                RETURNS TABLE (name text, last_due_at timestamptz, cron text, time_zone text, defined_at timestamptz, definition_seen_at timestamptz)
            LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM nextval('scaleops.schedule_reads');
                RAISE EXCEPTION 'the schedules are unavailable' USING ERRCODE = '57P03';
            END $$;
            ALTER TABLE scaleops.job_schedules RENAME TO job_schedules_away;
            CREATE VIEW scaleops.job_schedules AS SELECT * FROM scaleops.schedules_unavailable();
            """);
        try
        {
            await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "cron-retry",
                jobs => jobs.AddRecurring("read-retried", "* * * * * *", new Ping(8), new JobOptions { Queue = "cron-retry" }));
            await TestSignal.UntilAsync(
                () => database.ScalarAsync<bool>("SELECT is_called FROM scaleops.schedule_reads"), "the scheduler's first read to fail");
            await database.ExecuteAsync(Restore);

            await TestSignal.UntilAsync(
                async () => await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'cron-retry' AND state = 'succeeded'") >= 1,
                "the recurring job to run once the database is back");
            Assert.All(host.Probe.Seen, s => Assert.Equal(8, s.N));
        }
        finally
        {
            await database.ExecuteAsync(Restore + "DROP SEQUENCE IF EXISTS scaleops.schedule_reads;");
        }
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
        var badZone = TimeZoneInfo.CreateCustomTimeZone("zone\0", TimeSpan.FromHours(1), "zone", "zone");
        var zoneError = Assert.Throws<ArgumentException>(() => jobs.AddRecurring("bad-zone", "0 4 * * *", new Ping(1), null, badZone));
        Assert.Contains("time zone id of recurring schedule 'bad-zone'", zoneError.Message);
        Assert.Equal("timeZone", zoneError.ParamName);

        // A recurring job is due at its occurrence: a delay or a due time would be ignored, so they are refused by name.
        Assert.Contains("JobOptions.Delay", Assert.Throws<ArgumentException>(
            () => jobs.AddRecurring("delayed", "0 4 * * *", new Ping(1), new JobOptions { Delay = TimeSpan.FromHours(1) })).Message);
        Assert.Contains("JobOptions.RunAt", Assert.Throws<ArgumentException>(
            () => jobs.AddRecurring("run-at", "0 4 * * *", new Ping(1), new JobOptions { RunAt = DateTimeOffset.UtcNow.AddDays(30) })).Message);
        Assert.DoesNotContain(jobs.Services, d => d.ImplementationInstance is RecurringJob { Name: "delayed" or "run-at" or "bad-zone" });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // a host that only enqueues fires its schedules too
    public async Task A_recurring_payload_that_cannot_be_serialized_fails_the_start_naming_the_schedule(bool runWorker)
    {
        // It was serialized at the schedule's first step: the host started, the schedule never fired, and every few
        // seconds, for good, a warning said that starting it (reading its last due time) had failed.
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "cron-unserializable";
            o.RunWorker = runWorker;
        }, jobs => jobs.AddRecurring("unserializable", "0 3 * * *", new TypePayload(typeof(string)))));
        Assert.Contains("recurring schedule 'unserializable'", error.Message, StringComparison.Ordinal);
        Assert.Contains("System.Type", error.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.job_schedules WHERE name = 'unserializable'"));
    }

    [Theory]
    [InlineData("0 0 30 2 *")] // 30 February
    [InlineData("0 0 31 4 *")] // 31 April
    [InlineData("0 0 0 31 11 *")] // 31 November, with seconds
    public void A_cron_expression_that_never_occurs_is_rejected_when_registered(string cron)
    {
        // Cronos parses a day that no month it names has: the schedule was registered, never fired, and nothing said so.
        var jobs = new ServiceCollection().AddScaleOps().AddJobs();
        var error = Assert.Throws<ArgumentException>(() => jobs.AddRecurring("never", cron, new Ping(1)));
        Assert.Equal("cron", error.ParamName);
        Assert.Contains($"The cron expression '{cron}' of recurring schedule 'never' never occurs", error.Message);
        Assert.DoesNotContain(jobs.Services, d => d.ImplementationInstance is RecurringJob);

        // A day that only some years have (29 February) occurs.
        jobs.AddRecurring("leap-day", "0 0 29 2 *", new Ping(1));
        Assert.Contains(jobs.Services, d => d.ImplementationInstance is RecurringJob { Name: "leap-day" });
    }

    [Theory]
    [InlineData("0 3 * * 1", "2026-11-02T03:00:00Z", "2026-11-19T12:00:00Z", "2026-11-16T03:00:00Z")] // weekly, 3 days late
    [InlineData("0 0 1 1 *", "2025-01-01T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-01T00:00:00Z")] // yearly, 4 days late
    [InlineData("0 0 1 1 *", "2019-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-01-01T00:00:00Z")] // years of misses: the latest
    [InlineData("0 3 * * 1", "2026-11-16T03:00:00Z", "2026-11-19T12:00:00Z", null)] // the latest already fired
    [InlineData("0 3 * * 1", "2026-11-02T03:00:00Z", "2026-11-16T03:00:00Z", "2026-11-16T03:00:00Z")] // due right now
    public void The_due_time_to_fire_is_the_latest_occurrence_since_the_last_however_long_ago(string cron, string last, string now, string? expected)
    {
        var schedule = new RecurringJob("s", cron, CronExpression.Parse(cron), TimeZoneInfo.Utc, "test.ping", _ => "{}", null);
        var due = CronScheduler.Latest(schedule, DateTimeOffset.Parse(last), DateTimeOffset.Parse(now));
        Assert.Equal(expected is null ? null : DateTimeOffset.Parse(expected), due);
    }

    [Theory]
    [InlineData("0\t0\t3\t*\t*\t*")] // tabs, as a configuration file may hold it
    [InlineData("0 \t0 3 * * *")]
    [InlineData("0  0  3  *  *  *")]
    public void A_cron_expression_with_seconds_is_read_whatever_whitespace_separates_its_fields(string cron)
    {
        // The field count chose the format with a split on spaces only: six fields separated by tabs counted as one,
        // were parsed as five-field cron and rejected ("Unexpected character '*'"), though Cronos takes tabs between fields.
        var jobs = new ServiceCollection().AddScaleOps().AddJobs();
        jobs.AddRecurring("with-seconds", cron, new Ping(1));
        var schedule = Assert.Single(jobs.Services.Select(d => d.ImplementationInstance).OfType<RecurringJob>());
        Assert.Equal(CronExpression.Parse("0 0 3 * * *", CronFormat.IncludeSeconds), schedule.Cron);
    }

    [Theory]
    [InlineData("0 2 * * *", "2026-03-08T07:00:30Z", "2026-03-08T07:00:00Z")] // 02:00 does not exist that day: 03:00 EDT
    [InlineData("30 2 * * *", "2026-03-08T09:00:00Z", "2026-03-08T07:00:00Z")] // 02:30 neither: 03:00 EDT, as the next occurrence says
    [InlineData("0 2 * * *", "2026-03-09T12:00:00Z", "2026-03-09T06:00:00Z")] // the day after: 02:00 EDT again
    [InlineData("30 1 * * *", "2026-11-01T07:00:00Z", "2026-11-01T05:30:00Z")] // 01:30 twice (fall back): the first, once
    public void A_due_time_in_a_time_zone_is_an_occurrence_the_scheduler_waits_for_also_across_daylight_saving(string cron, string now, string expected)
    {
        // Spring forward in New York (2026-03-08 02:00 EST -> 03:00 EDT): the next occurrence of a time in the gap is
        // 03:00 EDT, but stepping back from after it gave 01:59:59 EST, a second before the gap, a time that is no
        // occurrence at all: the job fired at 03:00 stamped with a due time the schedule never had.
        var zone = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        var schedule = new RecurringJob("s", cron, CronExpression.Parse(cron), zone, "test.ping", _ => "{}", null);
        var due = CronScheduler.Latest(schedule, DateTimeOffset.Parse(now).AddDays(-1.5), DateTimeOffset.Parse(now));
        Assert.Equal(DateTimeOffset.Parse(expected), due);
        Assert.Equal(due, schedule.Cron.GetNextOccurrence(due!.Value.AddTicks(-1), zone));
    }

    [Fact]
    public async Task A_yearly_due_time_missed_for_days_while_no_host_ran_fires_once_when_a_host_starts()
    {
        // The schedule last fired a year before its latest occurrence, three days ago; no host ran since.
        var missed = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-3), TimeSpan.Zero);
        var cron = $"0 0 {missed.Day} {missed.Month} *";
        var previous = CronExpression.Parse(cron).GetPreviousOccurrence(missed, TimeZoneInfo.Utc, inclusive: false)!.Value;
        await database.ExecuteAsync(
            $"INSERT INTO scaleops.job_schedules (name, last_due_at) VALUES ('missed-yearly', '{previous:yyyy-MM-dd HH:mm:ss}+00')");
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "cron-missed",
            jobs => jobs.AddRecurring("missed-yearly", cron, new Ping(9), new JobOptions { Queue = "cron-missed" }));

        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'cron-missed' AND state = 'succeeded'") >= 1,
            "the missed due time to fire and run");
        Assert.Equal(missed, new DateTimeOffset(
            await database.ScalarAsync<DateTime>("SELECT last_due_at FROM scaleops.job_schedules WHERE name = 'missed-yearly'"), TimeSpan.Zero));
        var job = Assert.Single(await host.Admin.ListAsync(new JobQuery { Queue = "cron-missed" }));
        Assert.Equal(missed, job.RunAt);
    }
}

/// <summary>A payload System.Text.Json cannot serialize (a <see cref="Type"/> property).</summary>
public sealed record TypePayload(Type Type);
