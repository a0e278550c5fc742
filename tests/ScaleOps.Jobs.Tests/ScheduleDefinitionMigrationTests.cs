using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Migrations;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Migration jobs/0005 adds the definition columns to <c>job_schedules</c>, on a database that already has schedule rows
/// and jobs. Rows written before it have no definition; the first host to start adopts its own and keeps the row's last
/// due time, as for an unchanged schedule.
/// </summary>
public class ScheduleDefinitionMigrationTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    [Fact]
    public async Task Schedule_rows_from_before_the_migration_keep_their_last_due_time_and_take_the_first_starting_hosts_definition()
    {
        // The database as jobs/0004 left it, with a schedule that last fired on day 0 and a job it fired.
        await database.ExecuteAsync("""
            ALTER TABLE scaleops.job_schedules DROP CONSTRAINT job_schedules_definition,
                DROP COLUMN cron, DROP COLUMN time_zone, DROP COLUMN defined_at;
            DELETE FROM scaleops.schema_migrations WHERE component = 'jobs' AND version = 5;
            INSERT INTO scaleops.job_schedules (name, last_due_at) VALUES ('before-0005', '2031-03-10 03:00:00+00');
            INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at)
            VALUES ('cron-before-0005', 'test.ping', '{"n":1}', '2031-03-10 03:00:00+00', 3, now());
            """);

        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = database.ConnectionString).AddJobs();
        await using (var provider = services.BuildServiceProvider())
        {
            await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
        }

        Assert.Equal(1L, await database.ScalarAsync<long>(
            "SELECT count(*) FROM scaleops.job_schedules WHERE name = 'before-0005' AND last_due_at = '2031-03-10 03:00:00+00' " +
            "AND cron IS NULL AND time_zone IS NULL AND defined_at IS NULL"));

        // Three days later a host starts: the due times missed meanwhile fire once (the latest), and its definition is stored.
        var scheduler = Schedulers.Create(database.DataSource, "before-0005", "0 3 * * *", "cron-before-0005", new FakeLogger());
        var before = await database.ScalarAsync<DateTime>("SELECT clock_timestamp()");
        await scheduler.StepAllAsync(Schedulers.At(3, 12, 0), CancellationToken.None);

        Assert.Equal([Schedulers.At(0, 3, 0), Schedulers.At(3, 3, 0)], await Schedulers.DueTimesAsync(database.DataSource, "cron-before-0005"));
        Assert.Equal(1L, await database.ScalarAsync<long>(
            "SELECT count(*) FROM scaleops.job_schedules WHERE name = 'before-0005' AND last_due_at = '2031-03-13 03:00:00+00' " +
            $"AND cron = '0 3 * * *' AND time_zone = 'UTC' AND defined_at > '{before:O}'::timestamptz AND defined_at < clock_timestamp()"));
    }
}
