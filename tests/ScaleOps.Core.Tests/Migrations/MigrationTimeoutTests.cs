using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Internal;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Migrations;

/// <summary>
/// Migrations run under <c>ScaleOps:MigrationTimeout</c>, not the connection string's command timeout (30 s by default:
/// an index built on a large table, or a second host waiting for the first one's migration, took longer and failed the
/// start with Npgsql's bare timeout).
/// </summary>
public class MigrationTimeoutTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private ServiceProvider Provider(string schema, TimeSpan timeout, params MigrationSet[] sets)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o =>
        {
            // A command timeout of 1 s stands in for the default 30 s against a script that takes longer.
            o.ConnectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { CommandTimeout = 1 }.ConnectionString;
            o.Schema = schema;
            o.MigrationTimeout = timeout;
        });
        foreach (var set in sets)
        {
            services.AddSingleton(set);
        }

        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task A_script_longer_than_the_connections_command_timeout_is_applied()
    {
        var slow = new MigrationSet("slow", [new MigrationScript(1, "slow", "SELECT pg_sleep(2); CREATE TABLE {{schema}}.done (id int);", "s1")]);
        await using var provider = Provider("mt_slow", TimeSpan.FromMinutes(1), slow);

        var applied = await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();

        Assert.Equal("slow", Assert.Single(applied).Component);
        Assert.Equal(1L, await ScalarAsync("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'mt_slow' AND table_name = 'done'"));
    }

    [Fact]
    public async Task A_script_longer_than_the_migration_timeout_fails_naming_the_setting_and_applies_nothing()
    {
        var slow = new MigrationSet("slow", [new MigrationScript(1, "slow", "CREATE TABLE {{schema}}.done (id int); SELECT pg_sleep(5);", "s2")]);
        await using var provider = Provider("mt_over", TimeSpan.FromSeconds(1), slow);

        var ex = await Assert.ThrowsAsync<MigrationException>(() => provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync());

        Assert.Contains("slow/0001_slow did not finish within ScaleOps:MigrationTimeout", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM pg_namespace WHERE nspname = 'mt_over'"));
    }

    [Fact]
    public async Task Waiting_longer_than_the_migration_timeout_for_another_hosts_migration_fails_naming_the_lock()
    {
        var set = new MigrationSet("quick", [new MigrationScript(1, "quick", "CREATE TABLE {{schema}}.t (id int);", "q1")]);
        await using var provider = Provider("mt_lock", TimeSpan.FromSeconds(1), set);

        // Another host holds the migration lock in its open transaction.
        await using var other = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", other, transaction))
        {
            hold.Parameters.Add(new NpgsqlParameter<long> { TypedValue = AdvisoryLock.KeyOf("scaleops:migrations:mt_lock") });
            await hold.ExecuteNonQueryAsync();
        }

        var ex = await Assert.ThrowsAsync<MigrationException>(() => provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync());

        Assert.Contains("migration lock", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:MigrationTimeout", ex.Message, StringComparison.Ordinal);
        await transaction.RollbackAsync();
        Assert.Single(await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(86_401)]
    public void A_migration_timeout_out_of_range_fails_the_start_naming_the_setting(int seconds)
    {
        using var provider = Provider("mt_bad", TimeSpan.FromSeconds(seconds));
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<ScaleOpsOptions>>().Value);
        Assert.Contains("ScaleOps:MigrationTimeout", ex.Message, StringComparison.Ordinal);
    }

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
