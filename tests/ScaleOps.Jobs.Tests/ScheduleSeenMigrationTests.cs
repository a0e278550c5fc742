using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Migrations;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Migration jobs/0006 adds <c>definition_seen_at</c> to <c>job_schedules</c> (NULL for existing rows). A quiet host takes
/// a schedule over only from a definition a host of a build with it wrote and recorded as alive: hosts of older builds
/// never record that they are alive, so their definition is never taken over, however long the row stays unchanged.
/// </summary>
public class ScheduleSeenMigrationTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private const string Name = "before-0006";
    private const string Queue = "cron-before-0006";

    [Fact]
    public async Task A_definition_written_by_a_build_without_the_migration_is_never_taken_over_one_written_with_it_is()
    {
        // The database as jobs/0005 left it, with a schedule row.
        await database.ExecuteAsync($"""
            ALTER TABLE scaleops.job_schedules DROP COLUMN definition_seen_at;
            DELETE FROM scaleops.schema_migrations WHERE component = 'jobs' AND version = 6;
            INSERT INTO scaleops.job_schedules (name, last_due_at, cron, time_zone, defined_at)
            VALUES ('{Name}', '2031-03-10 09:30:00+00', '30 * * * *', 'UTC', '2031-03-10 08:00:00+00');
            """);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = database.ConnectionString).AddJobs();
        await using (var provider = services.BuildServiceProvider())
        {
            await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
        }

        Assert.Equal(1L, await database.ScalarAsync<long>(
            $"SELECT count(*) FROM scaleops.job_schedules WHERE name = '{Name}' AND cron = '30 * * * *' AND definition_seen_at IS NULL"));

        // Host A of this build starts (its definition wins); at 11:10 a host of the old build starts with another one,
        // writing it as jobs/0005's ScheduleDefine.sql does: definition_seen_at is left as it was, defined_at is that host's
        // clock (here one that agrees with the database's, on which this build writes both).
        var log = new FakeLogger();
        var a = Schedulers.Create(database.DataSource, Name, "0 * * * *", Queue, log);
        await Schedulers.RunAsync(Schedulers.At(0, 11, 10), (a, Schedulers.At(0, 10, 0, 5), DateTimeOffset.MaxValue));
        await database.ExecuteAsync($"""
            UPDATE scaleops.job_schedules SET cron = '30 * * * *', time_zone = 'UTC', defined_at = clock_timestamp(),
                last_due_at = GREATEST(last_due_at, '2031-03-10 11:10:00+00')
            WHERE name = '{Name}'
            """);

        // Hours without a change of the row: the old build's host may well be alive (it never says), so A stays quiet.
        var steps = await Schedulers.RunAsync(Schedulers.At(0, 15, 0), (a, Schedulers.At(0, 11, 10), DateTimeOffset.MaxValue));
        Assert.True(steps[0].Count >= 200, $"A stepped {steps[0].Count} times");
        Assert.Equal([Schedulers.At(0, 11, 0)], await Schedulers.DueTimesAsync(database.DataSource, Queue));
        Assert.DoesNotContain(log.Collector.GetSnapshot(), r => r.Id.Id == 3027);

        // A host of this build with that definition starts at 15:00 (the stored definition unchanged: it fires 14:30, the
        // latest due time missed since 11:10) and stops at 15:05: A takes over after the bound and fires on the hour.
        var b = Schedulers.Create(database.DataSource, Name, "30 * * * *", Queue, new FakeLogger());
        await Schedulers.RunAsync(Schedulers.At(0, 17, 30),
            (a, Schedulers.At(0, 15, 0, 5), DateTimeOffset.MaxValue), (b, Schedulers.At(0, 15, 0), Schedulers.At(0, 15, 5)));
        Assert.Single(log.Collector.GetSnapshot(), r => r.Id.Id == 3027);
        Assert.Equal([Schedulers.At(0, 11, 0), Schedulers.At(0, 14, 30), Schedulers.At(0, 16, 0), Schedulers.At(0, 17, 0)],
            await Schedulers.DueTimesAsync(database.DataSource, Queue));
    }
}
