using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests;

/// <summary>
/// Hosts that start together apply the policies one after the other, under one advisory lock per database. The wait for
/// another host's apply (hundreds of tables, each ALTER waiting for its table lock) is bounded by ScaleOps:MigrationTimeout,
/// like the migrations' own lock, not by the connection's Command Timeout (30 s by default).
/// </summary>
public class RlsPolicyManagerLockTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    private static readonly long PolicyLock = AdvisoryLock.KeyOf("scaleops:rls:policies");

    private async Task<NpgsqlConnection> HoldPolicyLockAsync()
    {
        var holder = new NpgsqlConnection(PostgresServer.ConnectionStringFor(database.Name, pooling: false));
        await holder.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_advisory_lock($1)", holder);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = PolicyLock });
        await command.ExecuteNonQueryAsync();
        return holder;
    }

    // Whether a session of the database has waited for the policy lock longer than `seconds`.
    private async Task<bool> WaitedLongerThanAsync(int seconds)
    {
        await using var command = database.DataSource.CreateCommand(
            "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            + "AND wait_event = 'advisory' AND now() - query_start > make_interval(secs => $1))");
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = seconds });
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Applying_waits_for_another_hosts_apply_beyond_the_connections_command_timeout()
    {
        var shortCommands = new NpgsqlConnectionStringBuilder(database.ConnectionString) { CommandTimeout = 1 }.ToString();
        await using var services = RlsDatabase.Services(shortCommands);
        await using var holder = await HoldPolicyLockAsync();
        var apply = services.GetRequiredService<RlsPolicyManager>().ApplyAsync();

        // The apply waits for the lock past its connection's 1 s Command Timeout (the other host's apply still running).
        await TestSignal.UntilAsync(async () => apply.IsCompleted || await WaitedLongerThanAsync(2), "the apply waiting more than 2 s for the lock");
        await using (var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", holder))
        {
            unlock.Parameters.Add(new NpgsqlParameter<long> { TypedValue = PolicyLock });
            await unlock.ExecuteNonQueryAsync();
        }

        var report = await apply.WaitAsync("the apply after the lock was released");
        Assert.Empty(report.Changes); // the fixture's policies are up to date
    }

    [Fact]
    public async Task A_lock_not_granted_within_the_migration_timeout_fails_naming_the_setting()
    {
        await using var services = RlsDatabase.Services(database.ConnectionString, more: s => s.Configure<ScaleOpsOptions>(o => o.MigrationTimeout = TimeSpan.FromSeconds(1)));
        await using var holder = await HoldPolicyLockAsync();
        var ex = await Assert.ThrowsAsync<TimeoutException>(() => services.GetRequiredService<RlsPolicyManager>().ApplyAsync());
        Assert.StartsWith(
            "The row-level security policies were not applied: their lock was not granted within ScaleOps:MigrationTimeout (00:00:01), "
            + "because another host is applying them (or holds the lock in an open transaction). Nothing was changed.",
            ex.Message, StringComparison.Ordinal);
    }
}
