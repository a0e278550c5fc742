using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Cronos;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Two hosts (two schedulers) that run one schedule under different definitions (cron expression or time zone), as in
/// a rolling deploy that changes the cron. The schedulers are driven one pass at a time at times the test chooses,
/// against the real database.
/// </summary>
public partial class RecurringTests
{
    private CronScheduler Scheduler(string name, string cron, string queue, ILogger logger, string zone = "UTC") =>
        Schedulers.Create(database.DataSource, name, cron, queue, logger, zone);

    private Task<List<DateTimeOffset>> DueTimesAsync(string queue) => Schedulers.DueTimesAsync(database.DataSource, queue);

    private static DateTimeOffset At(int day, int hour, int minute, int second = 0) => Schedulers.At(day, hour, minute, second);

    [Theory]
    [InlineData("0 * * * *", "UTC", "30 * * * *", "UTC", "def-cron")] // the cron changed: on the hour, now at half past
    [InlineData("0 * * * *", "UTC", "0 * * * *", "Asia/Kolkata", "def-zone")] // the time zone changed: UTC+05:30, so half past in UTC
    public async Task Hosts_with_different_definitions_of_one_schedule_fire_only_the_most_recently_started_hosts_timetable(
        string oldCron, string oldZone, string newCron, string newZone, string name)
    {
        var queue = "cron-" + name;
        var oldLog = new FakeLogger();
        var newLog = new FakeLogger();
        var old = Scheduler(name, oldCron, queue, oldLog, oldZone);
        await old.StepAllAsync(At(0, 10, 0, 5), CancellationToken.None); // starts
        await old.StepAllAsync(At(0, 11, 0, 1), CancellationToken.None); // fires 11:00

        // A rolling deploy starts a host with the new definition: from its start on, only its timetable runs.
        var @new = Scheduler(name, newCron, queue, newLog, newZone);
        await @new.StepAllAsync(At(0, 11, 10), CancellationToken.None);
        await @new.StepAllAsync(At(0, 11, 30, 1), CancellationToken.None); // fires 11:30
        await old.StepAllAsync(At(0, 12, 0, 1), CancellationToken.None); // 12:00 is not the schedule's any more
        await @new.StepAllAsync(At(0, 12, 30, 1), CancellationToken.None); // fires 12:30
        await old.StepAllAsync(At(0, 13, 0, 1), CancellationToken.None);

        Assert.Equal([At(0, 11, 0), At(0, 11, 30), At(0, 12, 30)], await DueTimesAsync(queue));
        var warning = Assert.Single(oldLog.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning);
        Assert.Contains($"'{name}'", warning.Message);
        Assert.Contains($"'{oldCron}' in {oldZone}", warning.Message);
        Assert.Contains($"'{newCron}' in {newZone}", warning.Message);
        Assert.DoesNotContain(newLog.Collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        var changed = Assert.Single(newLog.Collector.GetSnapshot(), r => r.Id.Id == 3025);
        Assert.Contains($"'{newCron}' in {newZone}, instead of '{oldCron}' in {oldZone}", changed.Message);

        // A host with the old definition starts again (a rollback): the most recently started host wins, both ways. The
        // first old host, quiet until now, fires with it again; each due time still fires once.
        var restarted = Scheduler(name, oldCron, queue, new FakeLogger(), oldZone);
        await restarted.StepAllAsync(At(0, 13, 10), CancellationToken.None);
        await @new.StepAllAsync(At(0, 13, 30, 1), CancellationToken.None);
        await restarted.StepAllAsync(At(0, 14, 0, 1), CancellationToken.None); // fires 14:00
        await old.StepAllAsync(At(0, 14, 0, 2), CancellationToken.None);
        await old.StepAllAsync(At(0, 15, 0, 1), CancellationToken.None); // fires 15:00
        await restarted.StepAllAsync(At(0, 15, 0, 2), CancellationToken.None);

        Assert.Equal([At(0, 11, 0), At(0, 11, 30), At(0, 12, 30), At(0, 14, 0), At(0, 15, 0)], await DueTimesAsync(queue));
        Assert.Single(newLog.Collector.GetSnapshot(), r => r.Level == LogLevel.Warning);
        Assert.Single(oldLog.Collector.GetSnapshot(), r => r.Id.Id == 3026); // the first old host fires again
    }

    [Fact]
    public void A_definition_compares_timetables_not_their_spelling()
    {
        // Cronos writes an expression back in one form, and a Windows zone id is stored as its IANA id.
        var newYork = ScheduleDefinition.Of(CronExpression.Parse("0 3 * * MON-FRI"), TimeZoneInfo.FindSystemTimeZoneById("America/New_York"));
        Assert.Equal(newYork, ScheduleDefinition.Of(
            CronExpression.Parse("0 0 3 * * 1-5", CronFormat.IncludeSeconds), TimeZoneInfo.FindSystemTimeZoneById("Eastern Standard Time")));
        Assert.Equal("'0 3 * * 1,2,3,4,5' in America/New_York", newYork.ToString());
        Assert.NotEqual(newYork, ScheduleDefinition.Of(CronExpression.Parse("0 3 * * MON-FRI"), TimeZoneInfo.Utc));
        Assert.NotEqual(newYork, ScheduleDefinition.Of(CronExpression.Parse("0 4 * * MON-FRI"), TimeZoneInfo.FindSystemTimeZoneById("America/New_York")));
        Assert.Equal("UTC", ScheduleDefinition.Of(CronExpression.Parse("0 3 * * *"), TimeZoneInfo.FindSystemTimeZoneById("Etc/UTC")).TimeZone);
    }

    [Theory]
    [InlineData("Asia/Kolkata", 11, 30)] // UTC+05:30: on the hour there is half past in UTC
    [InlineData("America/New_York", 12, 0)] // UTC-04:00 on that day
    public async Task A_schedule_in_a_time_zone_with_an_offset_fires_at_its_due_time(string zone, int hour, int minute)
    {
        // Cronos gives the due time with the zone's offset; Npgsql writes only UTC values to timestamptz.
        var name = "zone-" + zone.Replace('/', '-');
        var log = new FakeLogger();
        var scheduler = Scheduler(name, "0 * * * *", "cron-" + name, log, zone);
        await scheduler.StepAllAsync(At(0, hour - 1, minute, 30), CancellationToken.None);
        await scheduler.StepAllAsync(At(0, hour, minute, 1), CancellationToken.None);

        var warnings = string.Join(" | ", log.Collector.GetSnapshot().Where(r => r.Level >= LogLevel.Warning)
            .Select(r => r.Message + ": " + r.Exception?.Message));
        Assert.True(warnings.Length == 0, warnings);
        Assert.Equal([At(0, hour, minute)], await DueTimesAsync("cron-" + name));
    }

    [Fact]
    public async Task A_schedule_whose_definition_changed_while_no_host_ran_starts_its_new_timetable_at_start_without_a_catch_up_run()
    {
        // Fired daily at 03:00; removed from the code (or every host stopped); three days later it is back at 04:00.
        var before = Scheduler("changed-while-down", "0 3 * * *", "cron-changed", new FakeLogger());
        await before.StepAllAsync(At(0, 2, 0), CancellationToken.None);
        await before.StepAllAsync(At(0, 3, 0, 1), CancellationToken.None);

        var after = Scheduler("changed-while-down", "0 4 * * *", "cron-changed", new FakeLogger());
        await after.StepAllAsync(At(3, 12, 0), CancellationToken.None);
        Assert.Equal([At(0, 3, 0)], await DueTimesAsync("cron-changed"));

        await after.StepAllAsync(At(4, 4, 0, 1), CancellationToken.None);
        Assert.Equal([At(0, 3, 0), At(4, 4, 0)], await DueTimesAsync("cron-changed"));
    }

    [Fact]
    public async Task An_unchanged_schedule_whose_hosts_were_all_down_runs_once_for_the_due_times_missed_meanwhile()
    {
        var before = Scheduler("unchanged-while-down", "0 3 * * *", "cron-unchanged", new FakeLogger());
        await before.StepAllAsync(At(0, 2, 0), CancellationToken.None);
        await before.StepAllAsync(At(0, 3, 0, 1), CancellationToken.None);

        // Three days later a host starts with the same timetable, written with a seconds field: the same definition.
        var after = Scheduler("unchanged-while-down", "0 0 3 * * *", "cron-unchanged", new FakeLogger());
        await after.StepAllAsync(At(3, 12, 0), CancellationToken.None);
        Assert.Equal([At(0, 3, 0), At(3, 3, 0)], await DueTimesAsync("cron-unchanged"));

        await after.StepAllAsync(At(4, 3, 0, 1), CancellationToken.None);
        Assert.Equal([At(0, 3, 0), At(3, 3, 0), At(4, 3, 0)], await DueTimesAsync("cron-unchanged"));
    }
}
