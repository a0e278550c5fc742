using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Migrations;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Migration jobs/0003 advises building <c>jobs_running_keys</c> CONCURRENTLY beforehand on a large table. Such a build
/// that fails leaves an INVALID index under the name, which <c>CREATE INDEX IF NOT EXISTS</c> would keep for good:
/// maintained on every write, never read. Migration jobs/0004 rebuilds it.
/// </summary>
public class RunningKeysIndexMigrationTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private const string IndexState =
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = 'scaleops.jobs_running_keys'::regclass";

    [Fact]
    public async Task An_invalid_index_left_by_a_failed_concurrent_build_is_built_again()
    {
        // A database at jobs/0003 whose operator pre-built the index CONCURRENTLY, and the build failed: a writer's open
        // transaction held the table and the build gave up on its lock_timeout after it had created the index.
        await database.ExecuteAsync("DROP INDEX scaleops.jobs_running_keys; DELETE FROM scaleops.schema_migrations WHERE component = 'jobs' AND version = 4");
        await using (var writer = await database.DataSource.OpenConnectionAsync())
        await using (var open = await writer.BeginTransactionAsync())
        {
            await using (var insert = new NpgsqlCommand(
                "INSERT INTO scaleops.jobs (queue, kind, tenant_id, payload, run_at, max_attempts, created_at) VALUES ('q', 'k', '', '{}', now(), 3, now())",
                writer, open))
            {
                await insert.ExecuteNonQueryAsync();
            }

            await using var builder = await database.DataSource.OpenConnectionAsync();
            await using (var timeout = new NpgsqlCommand("SET lock_timeout = '200ms'", builder))
            {
                await timeout.ExecuteNonQueryAsync();
            }

            // Alone in its command: in a batch it would run in the batch's implicit transaction, where it is refused.
            await using var build = new NpgsqlCommand(
                "CREATE INDEX CONCURRENTLY jobs_running_keys ON scaleops.jobs (queue, concurrency_key) " +
                "WHERE state = 'running' AND concurrency_key IS NOT NULL", builder);
            var failed = await Assert.ThrowsAsync<PostgresException>(() => build.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.LockNotAvailable, failed.SqlState);
        }

        Assert.False(await database.ScalarAsync<bool>(IndexState), "the failed concurrent build should have left an invalid index");

        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = database.ConnectionString).AddJobs();
        await using (var provider = services.BuildServiceProvider())
        {
            await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
        }

        Assert.True(await database.ScalarAsync<bool>(IndexState), "jobs/0004 should have rebuilt the invalid index");
        Assert.Equal(
            "CREATE INDEX jobs_running_keys ON scaleops.jobs USING btree (queue, concurrency_key) WHERE ((state = 'running'::text) AND (concurrency_key IS NOT NULL))",
            await database.ScalarAsync<string>("SELECT pg_get_indexdef('scaleops.jobs_running_keys'::regclass)"));
    }
}
