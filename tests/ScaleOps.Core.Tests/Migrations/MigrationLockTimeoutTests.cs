using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Diagnostics;
using ScaleOps.Internal;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Migrations;

/// <summary>
/// A migration script that changes a table another session holds (a long report, an open transaction) must not wait in
/// that table's lock queue: every new reader and writer of the table would wait behind it until the long transaction
/// ended. It gives up after <c>ScaleOps:MigrationLockTimeout</c>, rolls back, and is tried again within
/// <c>ScaleOps:MigrationTimeout</c>.
/// </summary>
public class MigrationLockTimeoutTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private static readonly MigrationScript CreateTable = new(1, "create", "CREATE TABLE {{schema}}.orders (id int);", "c1");
    private static readonly MigrationScript AddColumn = new(2, "add_column", "ALTER TABLE {{schema}}.orders ADD COLUMN note text;", "c2");

    [Fact]
    public async Task A_script_behind_a_long_transaction_gives_up_its_lock_wait_and_is_applied_once_the_transaction_ends()
    {
        await MigrateAsync("mlt_busy", TimeSpan.FromMinutes(1), null, CreateTable);
        await using var holder = await TableLockHolder.HoldAsync(database.DataSource, "mlt_busy.orders");
        var seen = new LogEventSignal<MigrationLockTimeoutTests>(ScaleOpsEventIds.MigrationLockTimeout);

        var migrate = MigrateAsync("mlt_busy", TimeSpan.FromMinutes(1), seen, CreateTable, AddColumn);

        // Before: the ALTER waited in the lock queue (no lock_timeout), so this warning never came and every new reader of
        // the table waited behind the migration until the holder ended.
        var warning = await seen.Message.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("Migration orders/0002_add_column waited for a table lock beyond ScaleOps:MigrationLockTimeout", warning, StringComparison.Ordinal);

        await holder.CommitAsync();
        var applied = await migrate.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, Assert.Single(applied).Version);
        Assert.Equal(1L, await ScalarAsync(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'mlt_busy' AND table_name = 'orders' AND column_name = 'note'"));
    }

    [Fact]
    public async Task A_table_held_past_the_migration_timeout_fails_naming_the_script_and_both_settings_and_applies_nothing()
    {
        await MigrateAsync("mlt_held", TimeSpan.FromMinutes(1), null, CreateTable);
        await using var holder = await TableLockHolder.HoldAsync(database.DataSource, "mlt_held.orders");

        var ex = await Assert.ThrowsAsync<MigrationException>(() => MigrateAsync("mlt_held", TimeSpan.FromSeconds(2), null, CreateTable, AddColumn));

        Assert.Contains("Migration orders/0002_add_column could not lock a table it changes within ScaleOps:MigrationTimeout", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:MigrationLockTimeout", ex.Message, StringComparison.Ordinal);
        Assert.Equal(PostgresErrorCodes.LockNotAvailable, Assert.IsType<PostgresException>(ex.InnerException).SqlState);
        await holder.CommitAsync();
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'mlt_held' AND column_name = 'note'"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(60_001)]
    public void A_migration_lock_timeout_out_of_range_fails_the_start_naming_the_setting(int milliseconds)
    {
        using var provider = Provider("mlt_bad", TimeSpan.FromMinutes(1), null, o => o.MigrationLockTimeout = TimeSpan.FromMilliseconds(milliseconds));
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<ScaleOpsOptions>>().Value);
        Assert.Contains("ScaleOps:MigrationLockTimeout must be between 10 ms and 1 minute", ex.Message, StringComparison.Ordinal);
    }

    private async Task<IReadOnlyList<AppliedMigration>> MigrateAsync(
        string schema, TimeSpan timeout, ILoggerProvider? logs, params MigrationScript[] scripts)
    {
        await using var provider = Provider(schema, timeout, logs, o => o.MigrationLockTimeout = TimeSpan.FromMilliseconds(50), new MigrationSet("orders", scripts));
        return await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
    }

    private ServiceProvider Provider(string schema, TimeSpan timeout, ILoggerProvider? logs, Action<ScaleOpsOptions> configure, params MigrationSet[] sets)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging =>
        {
            if (logs is not null)
            {
                logging.AddProvider(logs);
            }
        });
        services.AddScaleOps(o =>
        {
            o.ConnectionString = database.ConnectionString;
            o.Schema = schema;
            o.MigrationTimeout = timeout;
            configure(o);
        });
        foreach (var set in sets)
        {
            services.AddSingleton(set);
        }

        return services.BuildServiceProvider();
    }

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        return await command.ExecuteScalarAsync();
    }
}
