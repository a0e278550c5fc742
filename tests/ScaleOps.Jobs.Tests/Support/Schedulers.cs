using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Cronos;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Jobs.Internal;

namespace ScaleOps.Jobs.Tests.Support;

/// <summary>A recurring schedule's scheduler on a test database, as one host would run it, driven by the test's times.</summary>
internal static class Schedulers
{
    private static readonly DateTimeOffset Day = new(2031, 3, 10, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A scheduler of one schedule firing <see cref="Ping"/> jobs into <paramref name="queue"/>.</summary>
    public static CronScheduler Create(
        NpgsqlDataSource dataSource, string name, string cron, string queue, ILogger logger, string zone = "UTC", JobsOptions? options = null)
    {
        var fields = cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        var expression = CronExpression.Parse(cron, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
        var schedule = new RecurringJob(name, cron, expression, TimeZoneInfo.FindSystemTimeZoneById(zone), "test.ping",
            o => JsonSerializer.Serialize(new Ping(1), o), new JobOptions { Queue = queue });
        var store = new JobStore(dataSource, Options.Create(new ScaleOpsOptions { Schema = "scaleops" }));
        // Driven with the test's times (StepAllAsync): the database's clock is only read by the loop, never run here.
        var clock = new DatabaseClock(null, TimeProvider.System, logger);
        return new CronScheduler([schedule], store, options ?? new JobsOptions(), TimeProvider.System, clock, logger);
    }

    /// <summary>The due times (<c>run_at</c>) of the jobs fired into a queue, in order.</summary>
    public static async Task<List<DateTimeOffset>> DueTimesAsync(NpgsqlDataSource dataSource, string queue)
    {
        await using var command = dataSource.CreateCommand("SELECT run_at FROM scaleops.jobs WHERE queue = @queue ORDER BY run_at, id");
        command.Parameters.AddWithValue("queue", queue);
        await using var reader = await command.ExecuteReaderAsync();
        var times = new List<DateTimeOffset>();
        while (await reader.ReadAsync())
        {
            times.Add(reader.GetFieldValue<DateTimeOffset>(0));
        }

        return times;
    }

    /// <summary>
    /// Runs schedulers as their loops would, on one virtual clock: each steps at the time its previous step asked to wake
    /// at (the first at its start), in time order (at one time, in the order given), until <paramref name="until"/> or its
    /// own stop time. Returns the times
    /// each scheduler stepped at.
    /// </summary>
    public static async Task<List<DateTimeOffset>[]> RunAsync(
        DateTimeOffset until, params (CronScheduler Scheduler, DateTimeOffset Start, DateTimeOffset Stop)[] hosts)
    {
        var next = hosts.Select(h => h.Start).ToArray();
        var steps = hosts.Select(_ => new List<DateTimeOffset>()).ToArray();
        while (true)
        {
            var i = Enumerable.Range(0, hosts.Length).Where(i => next[i] < until && next[i] < hosts[i].Stop)
                .OrderBy(i => next[i]).DefaultIfEmpty(-1).First();
            if (i < 0)
            {
                return steps;
            }

            var now = next[i];
            steps[i].Add(now);
            var wake = await hosts[i].Scheduler.StepAllAsync(now, CancellationToken.None);
            next[i] = wake > now ? wake : now.AddMilliseconds(1);
        }
    }

    /// <summary>A time on a fixed day (2031-03-10 UTC) plus <paramref name="day"/> days.</summary>
    public static DateTimeOffset At(int day, int hour, int minute, int second = 0) =>
        Day.AddDays(day).AddHours(hour).AddMinutes(minute).AddSeconds(second);
}
