using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// A host whose definition of a schedule is not the stored one (quiet) takes the schedule over once no host with the
/// stored definition is seen for <c>RecurringTakeoverAfter</c> (default 5 minutes): the rollback that stops only the
/// new hosts. The schedulers run as their loops would on one virtual clock (<see cref="Schedulers.RunAsync"/>), against
/// the real database.
/// </summary>
public partial class RecurringTests
{
    private const int TakenOver = 3027;

    /// <summary>A time column of a schedule's row; null when NULL or when the column does not exist (before its migration).</summary>
    private async Task<DateTimeOffset?> ScheduleTimeAsync(string name, string column)
    {
        await using var command = database.DataSource.CreateCommand(
            "SELECT (to_jsonb(s) ->> @column)::timestamptz FROM scaleops.job_schedules s WHERE name = @name");
        command.Parameters.AddWithValue("column", column);
        command.Parameters.AddWithValue("name", name);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() && !reader.IsDBNull(0) ? reader.GetFieldValue<DateTimeOffset>(0) : null;
    }

    private Task<string> StoredCronAsync(string name) =>
        database.ScalarAsync<string>($"SELECT cron FROM scaleops.job_schedules WHERE name = '{name}'");

    [Fact]
    public async Task A_rollback_that_stops_the_new_hosts_leaves_the_schedule_on_the_old_hosts_timetable_after_the_bound()
    {
        // Old host A fires on the hour; new host B (half past) starts at 11:10 and wins; at 12:40 B is stopped for good.
        const string Name = "takeover-rollback";
        const string Queue = "cron-takeover-rollback";
        var aLog = new FakeLogger();
        var a = Scheduler(Name, "0 * * * *", Queue, aLog);
        var b = Scheduler(Name, "30 * * * *", Queue, new FakeLogger());
        var before = await Schedulers.RunAsync(At(0, 12, 40), (a, At(0, 10, 0, 5), DateTimeOffset.MaxValue), (b, At(0, 11, 10), At(0, 12, 40)));
        var lastSeen = before[1][^1]; // B's last step (a check or a fire) said it was alive

        // Not before the bound after B was last seen, and at A's first check past it (A checks every minute): the
        // takeover moved last_due_at to A's now, and A's next due time is 13:00.
        var steps = await Schedulers.RunAsync(At(0, 12, 50), (a, At(0, 12, 40), DateTimeOffset.MaxValue));
        Assert.InRange(
            (await ScheduleTimeAsync(Name, "last_due_at"))!.Value, lastSeen + TimeSpan.FromMinutes(5), lastSeen + TimeSpan.FromMinutes(7));
        steps[0].AddRange((await Schedulers.RunAsync(At(0, 14, 30), (a, At(0, 12, 50), DateTimeOffset.MaxValue)))[0]);

        // 13:00 and 14:00 are A's again; nothing of B's timetable after it stopped, no catch-up of anything missed.
        Assert.Equal([At(0, 11, 0), At(0, 11, 30), At(0, 12, 30), At(0, 13, 0), At(0, 14, 0)], await DueTimesAsync(Queue));
        var taken = Assert.Single(aLog.Collector.GetSnapshot(), r => r.Id.Id == TakenOver);
        Assert.Equal(LogLevel.Warning, taken.Level);
        Assert.Contains("'takeover-rollback'", taken.Message);
        Assert.Contains("stored definition, '30 * * * *' in UTC", taken.Message);
        Assert.Contains("this host's definition, '0 * * * *' in UTC", taken.Message);
        Assert.Equal("0 * * * *", await StoredCronAsync(Name));
        Assert.True(steps[0].Count >= 100, $"A stepped {steps[0].Count} times"); // its loop ran on: a check at least every minute
    }

    [Fact]
    public async Task A_quiet_host_stays_quiet_for_hours_while_a_host_with_the_stored_definition_is_alive_between_its_due_times()
    {
        // B fires daily at 03:00, so from 10:10 to 16:00 only its checks say it is alive; A (hourly) checks as often.
        const string Name = "takeover-alive";
        const string Queue = "cron-takeover-alive";
        var aLog = new FakeLogger();
        var bLog = new FakeLogger();
        var a = Scheduler(Name, "0 * * * *", Queue, aLog);
        var b = Scheduler(Name, "0 3 * * *", Queue, bLog);
        var steps = await Schedulers.RunAsync(
            At(0, 15, 0), (a, At(0, 9, 55), DateTimeOffset.MaxValue), (b, At(0, 10, 10), DateTimeOffset.MaxValue));
        var lastHour = await database.ScalarAsync<DateTime>("SELECT clock_timestamp()"); // signs of life are the database's clock
        var more = await Schedulers.RunAsync(At(0, 16, 0, 30), (a, steps[0][^1], DateTimeOffset.MaxValue), (b, steps[1][^1], DateTimeOffset.MaxValue));
        steps[0].AddRange(more[0].Skip(1));

        Assert.Equal([At(0, 10, 0)], await DueTimesAsync(Queue));
        Assert.True(steps[0].Count >= 300, $"A stepped {steps[0].Count} times");
        Assert.DoesNotContain(aLog.Collector.GetSnapshot(), r => r.Id.Id == TakenOver);
        Assert.Single(aLog.Collector.GetSnapshot(), r => r.Id.Id == 3024);
        Assert.DoesNotContain(bLog.Collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        Assert.Equal("0 3 * * *", await StoredCronAsync(Name));
        Assert.True((await ScheduleTimeAsync(Name, "definition_seen_at"))!.Value > lastHour, "B said it was alive in the last hour");
    }

    [Fact]
    public async Task Of_two_quiet_hosts_that_take_over_at_once_only_one_does_and_only_its_timetable_fires()
    {
        // A (on the hour) and C (quarter past) are both quiet under B (half past); B stops at 11:00.
        const string Name = "takeover-race";
        const string Queue = "cron-takeover-race";
        var aLog = new FakeLogger();
        var cLog = new FakeLogger();
        var a = Scheduler(Name, "0 * * * *", Queue, aLog);
        var c = Scheduler(Name, "15 * * * *", Queue, cLog);
        var b = Scheduler(Name, "30 * * * *", Queue, new FakeLogger());
        await Schedulers.RunAsync(At(0, 11, 0), (a, At(0, 10, 0, 5), DateTimeOffset.MaxValue),
            (c, At(0, 10, 5), DateTimeOffset.MaxValue), (b, At(0, 10, 10), DateTimeOffset.MaxValue));
        await a.StepAllAsync(At(0, 11, 1), CancellationToken.None);
        await c.StepAllAsync(At(0, 11, 1), CancellationToken.None);

        // At 11:07 both have seen the row unchanged for longer than the bound. The test holds the row's lock, so both
        // read it, decide to take over, and wait in their UPDATE; then it lets them go.
        Task<DateTimeOffset> aStep, cStep;
        await using (var connection = await database.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using (var lockRow = connection.CreateCommand())
            {
                lockRow.CommandText = $"SELECT 1 FROM scaleops.job_schedules WHERE name = '{Name}' FOR UPDATE";
                await lockRow.ExecuteScalarAsync();
            }

            aStep = Task.Run(() => a.StepAllAsync(At(0, 11, 7), CancellationToken.None));
            cStep = Task.Run(() => c.StepAllAsync(At(0, 11, 7), CancellationToken.None));
            await TestSignal.UntilAsync(async () => await database.ScalarAsync<long>(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' " +
                "AND query LIKE '%job_schedules%'") == 2, "both quiet hosts to wait on the schedule's row lock to take it over");
            await transaction.CommitAsync();
        }

        await Task.WhenAll(aStep, cStep).WaitAsync("both steps to end");
        var takers = new[] { (Log: aLog, Cron: "0 * * * *"), (Log: cLog, Cron: "15 * * * *") }
            .Where(h => h.Log.Collector.GetSnapshot().Any(r => r.Id.Id == TakenOver)).ToList();
        var taker = Assert.Single(takers);
        Assert.Equal(taker.Cron, await StoredCronAsync(Name));

        // From then on only the taker's timetable fires; the other host stays quiet (it warns of the new definition).
        await Schedulers.RunAsync(At(0, 14, 0, 30), (a, At(0, 11, 8), DateTimeOffset.MaxValue), (c, At(0, 11, 8), DateTimeOffset.MaxValue));
        var after = (await DueTimesAsync(Queue)).Where(d => d > At(0, 11, 7)).ToList();
        Assert.Equal(
            taker.Cron == "0 * * * *" ? [At(0, 12, 0), At(0, 13, 0), At(0, 14, 0)] : [At(0, 11, 15), At(0, 12, 15), At(0, 13, 15)],
            after);
        Assert.Single(aLog.Collector.GetSnapshot().Concat(cLog.Collector.GetSnapshot()), r => r.Id.Id == TakenOver);
        var other = taker.Log == aLog ? cLog : aLog;
        Assert.Contains(other.Collector.GetSnapshot(), r => r.Id.Id == 3024 && r.Message.Contains($"the stored one, '{taker.Cron}' in UTC"));
    }

    [Fact]
    public async Task A_database_outage_longer_than_the_bound_does_not_make_a_quiet_host_take_over_from_a_live_one()
    {
        // B (half past) wins over A (on the hour); both check every minute on the minute, and A last reads the row at
        // 12:00:00, after B's sign of life at 12:00:00. From then to 12:10 the schedules table fails every statement. A checks first after
        // it (12:10:05), before B could say it is alive again: the row is as A saw it 10 minutes ago, but a failed check
        // starts A's observation anew, so A waits for the bound again and sees B's next sign of life.
        const string Name = "takeover-outage";
        const string Queue = "cron-takeover-outage";
        const string Restore = """
            DO $$ BEGIN
                IF to_regclass('scaleops.job_schedules_down') IS NOT NULL THEN
                    DROP VIEW IF EXISTS scaleops.job_schedules;
                    ALTER TABLE scaleops.job_schedules_down RENAME TO job_schedules;
                END IF;
            END $$;
            DROP FUNCTION IF EXISTS scaleops.schedules_down();
            """;
        var aLog = new FakeLogger();
        var bLog = new FakeLogger();
        var a = Scheduler(Name, "0 * * * *", Queue, aLog);
        var b = Scheduler(Name, "30 * * * *", Queue, bLog);
        var steps = await Schedulers.RunAsync(
            At(0, 12, 0, 1), (b, At(0, 11, 10), DateTimeOffset.MaxValue), (a, At(0, 10, 0, 5), DateTimeOffset.MaxValue));
        Assert.Equal(At(0, 12, 0), steps[0][^1]); // B, then A (at one time, the runner steps them in the order given)
        Assert.Equal(At(0, 12, 0), steps[1][^1]);

        await database.ExecuteAsync("""
            CREATE FUNCTION scaleops.schedules_down()
                RETURNS TABLE (name text, last_due_at timestamptz, cron text, time_zone text, defined_at timestamptz, definition_seen_at timestamptz)
            LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the schedules are unavailable' USING ERRCODE = '57P03'; END $$;
            ALTER TABLE scaleops.job_schedules RENAME TO job_schedules_down;
            CREATE VIEW scaleops.job_schedules AS SELECT * FROM scaleops.schedules_down();
            """);
        try
        {
            await a.StepAllAsync(At(0, 12, 1), CancellationToken.None);
            await b.StepAllAsync(At(0, 12, 9), CancellationToken.None);
            await a.StepAllAsync(At(0, 12, 9, 5), CancellationToken.None);
        }
        finally
        {
            await database.ExecuteAsync(Restore);
        }

        Assert.Contains(aLog.Collector.GetSnapshot(), r => r.Id.Id == 3028 && r.Message.Contains(Name)); // its checks failed
        Assert.Contains(bLog.Collector.GetSnapshot(), r => r.Id.Id == 3028 && r.Message.Contains(Name)); // its sign of life failed
        await Schedulers.RunAsync(At(0, 13, 0), (a, At(0, 12, 10, 5), DateTimeOffset.MaxValue), (b, At(0, 12, 10, 30), DateTimeOffset.MaxValue));

        Assert.DoesNotContain(aLog.Collector.GetSnapshot(), r => r.Id.Id == TakenOver);
        Assert.Equal("30 * * * *", await StoredCronAsync(Name));
        Assert.Equal([At(0, 11, 0), At(0, 11, 30), At(0, 12, 30)], await DueTimesAsync(Queue));
    }
}
