using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Cronos;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
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
    private static readonly DateTimeOffset Day = new(2031, 3, 10, 0, 0, 0, TimeSpan.Zero);

    private CronScheduler Scheduler(string name, string cron, string queue, ILogger logger, string zone = "UTC")
    {
        var fields = cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        var expression = CronExpression.Parse(cron, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
        var schedule = new RecurringJob(name, cron, expression, TimeZoneInfo.FindSystemTimeZoneById(zone), "test.ping",
            o => JsonSerializer.Serialize(new Ping(1), o), new JobOptions { Queue = queue });
        var store = new JobStore(database.DataSource, Options.Create(new ScaleOpsOptions { Schema = "scaleops" }));
        return new CronScheduler([schedule], store, new JobsOptions(), TimeProvider.System, logger);
    }

    private async Task<List<DateTimeOffset>> DueTimesAsync(string queue)
    {
        await using var command = database.DataSource.CreateCommand("SELECT run_at FROM scaleops.jobs WHERE queue = @queue ORDER BY run_at, id");
        command.Parameters.AddWithValue("queue", queue);
        await using var reader = await command.ExecuteReaderAsync();
        var times = new List<DateTimeOffset>();
        while (await reader.ReadAsync())
        {
            times.Add(reader.GetFieldValue<DateTimeOffset>(0));
        }

        return times;
    }

    private static DateTimeOffset At(int day, int hour, int minute, int second = 0) =>
        Day.AddDays(day).AddHours(hour).AddMinutes(minute).AddSeconds(second);

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
}
