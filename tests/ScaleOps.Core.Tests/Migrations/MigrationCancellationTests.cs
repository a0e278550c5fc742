using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Internal;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Migrations;

/// <summary>
/// Migrations cancelled by the caller while the server waits (for the migration lock, inside a script), through
/// pgbouncer in transaction pooling mode and directly with <c>No Reset On Close</c>: nothing applied, nothing left on the
/// pooled or server connections, and the next run applies.
/// </summary>
public class MigrationCancellationTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private const long Gate = 4242;

    public static TheoryData<bool> Routes => new() { true, false };

    private ServiceProvider Provider(string schema, bool throughPgBouncer, MigrationSet set)
    {
        var connectionString = throughPgBouncer
            ? PgBouncerServer.ConnectionStringFor(database.Name, "postgres")
            : new NpgsqlConnectionStringBuilder(database.ConnectionString) { NoResetOnClose = true }.ConnectionString;
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o =>
        {
            o.ConnectionString = connectionString;
            o.Schema = schema;
        });
        services.AddSingleton(set);
        return services.BuildServiceProvider();
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task A_migration_cancelled_inside_a_script_throws_the_callers_token_applies_nothing_and_the_next_run_applies(bool throughPgBouncer)
    {
        var schema = throughPgBouncer ? "mc_script_bouncer" : "mc_script_direct";
        var set = new MigrationSet("gated", [new MigrationScript(1, "gated", $"CREATE TABLE {{{{schema}}}}.t (id int); SELECT pg_advisory_xact_lock_shared({Gate});", "g1")]);
        await using var provider = Provider(schema, throughPgBouncer, set);
        var migrator = provider.GetRequiredService<IScaleOpsMigrator>();
        using var cancel = new CancellationTokenSource();

        await using (var gate = await database.DataSource.OpenConnectionAsync())
        await using (var held = await gate.BeginTransactionAsync())
        {
            await ExecuteAsync(gate, held, $"SELECT pg_advisory_xact_lock({Gate})");
            var run = migrator.MigrateAsync(cancel.Token);
            await WaitingForAdvisoryLockAsync(Gate);
            await cancel.CancelAsync();
            var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TestSignal.DefaultTimeout));
            Assert.Equal(cancel.Token, ex.CancellationToken);
            await held.RollbackAsync();
        }

        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'"));
        await NothingHeldAsync();
        Assert.Single(await migrator.MigrateAsync());
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task A_migration_cancelled_while_it_waits_for_the_migration_lock_leaves_no_lock_and_the_next_run_applies(bool throughPgBouncer)
    {
        var schema = throughPgBouncer ? "mc_lock_bouncer" : "mc_lock_direct";
        var set = new MigrationSet("quick", [new MigrationScript(1, "quick", "CREATE TABLE {{schema}}.t (id int);", "q1")]);
        await using var provider = Provider(schema, throughPgBouncer, set);
        var migrator = provider.GetRequiredService<IScaleOpsMigrator>();
        var key = AdvisoryLock.KeyOf("scaleops:migrations:" + schema);
        using var cancel = new CancellationTokenSource();

        await using (var other = await database.DataSource.OpenConnectionAsync())
        await using (var held = await other.BeginTransactionAsync())
        {
            await ExecuteAsync(other, held, $"SELECT pg_advisory_xact_lock({key})");
            var run = migrator.MigrateAsync(cancel.Token);
            await WaitingForAdvisoryLockAsync(key);
            await cancel.CancelAsync();
            var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TestSignal.DefaultTimeout));
            Assert.Equal(cancel.Token, ex.CancellationToken);
            await held.RollbackAsync();
        }

        await NothingHeldAsync();
        Assert.Single(await migrator.MigrateAsync());
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync();
    }

    private Task WaitingForAdvisoryLockAsync(long key) => TestSignal.UntilAsync(
        async () => (long)(await ScalarAsync(
            $"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = ({key}::bigint & 4294967295)::oid "
            + $"AND classid = (({key}::bigint >> 32) & 4294967295)::oid"))! > 0,
        "the migration to wait for the advisory lock");

    /// <summary>No advisory lock and no open transaction is left on any session of the test database.</summary>
    private Task NothingHeldAsync() => TestSignal.UntilAsync(
        async () => (long)(await ScalarAsync(
            "SELECT (SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' "
            + "AND d.datname = current_database()) + (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            + "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle')"))! == 0,
        "no advisory lock or busy session left");

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
