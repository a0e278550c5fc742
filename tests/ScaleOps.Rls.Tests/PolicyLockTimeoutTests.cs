using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests;

/// <summary>
/// Policy DDL takes an ACCESS EXCLUSIVE lock. Behind a long query or transaction on the table it must give up after
/// <see cref="RlsOptions.LockTimeout"/> and try again later, instead of waiting in the lock queue, where every new reader
/// and writer of the table would wait behind it (the table is down until the long transaction ends).
/// </summary>
public class PolicyLockTimeoutTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    [Fact]
    public async Task A_table_held_by_a_long_transaction_fails_the_apply_after_its_attempts_naming_the_table_and_nothing_changes()
    {
        await CreateTableAsync("held_invoices");
        await using var holder = await TableLockHolder.HoldAsync(database.DataSource, "held_invoices");
        var manager = Manager(new RlsOptions { LockTimeout = TimeSpan.FromMilliseconds(50), DdlAttempts = 2, DdlRetryDelay = TimeSpan.Zero },
            NullLogger<RlsPolicyManager>.Instance, "held_invoices");

        // Before: the ALTER waited in the lock queue until the connection's command timeout (30 s), an NpgsqlException.
        var error = await Assert.ThrowsAsync<TimeoutException>(() => manager.ApplyAsync());
        Assert.Contains("The row-level security of held_invoices was not applied: it stayed locked by other sessions in all 2 attempts", error.Message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Rls:LockTimeout", error.Message, StringComparison.Ordinal);
        Assert.Equal(PostgresErrorCodes.LockNotAvailable, Assert.IsType<PostgresException>(error.InnerException).SqlState);

        // The holder's transaction was never disturbed, and the apply left nothing behind.
        await holder.CommitAsync();
        Assert.Equal((false, 0L), await RowSecurityAsync("held_invoices"));
    }

    [Fact]
    public async Task The_apply_tries_again_and_succeeds_once_the_long_transaction_ends()
    {
        await CreateTableAsync("busy_invoices");
        await using var holder = await TableLockHolder.HoldAsync(database.DataSource, "busy_invoices");
        var logger = new LogEventSignal<RlsPolicyManager>(2009);
        var manager = Manager(new RlsOptions { LockTimeout = TimeSpan.FromMilliseconds(20), DdlAttempts = 1000, DdlRetryDelay = TimeSpan.FromMilliseconds(10) },
            logger, "busy_invoices");

        var apply = manager.ApplyAsync();
        var warning = await logger.Message.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("busy_invoices is locked by another session beyond ScaleOps:Rls:LockTimeout", warning, StringComparison.Ordinal);
        Assert.False(apply.IsCompleted);

        await holder.CommitAsync();
        var report = await apply.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Contains("busy_invoices: created policy scaleops_tenant", report.Changes);
        Assert.Equal((true, 1L), await RowSecurityAsync("busy_invoices"));
    }

    [Fact]
    public async Task A_table_already_applied_is_not_kept_locked_while_the_apply_waits_for_the_next_one()
    {
        await CreateTableAsync("first_done");
        await CreateTableAsync("second_held");
        await using var holder = await TableLockHolder.HoldAsync(database.DataSource, "second_held");
        var options = new RlsOptions { LockTimeout = TimeSpan.FromMinutes(1), DdlAttempts = 1 };
        options.Tables.Add(new RlsTable("public", "first_done"));
        var manager = Manager(options, NullLogger<RlsPolicyManager>.Instance, "second_held");

        var apply = manager.ApplyAsync();
        var waiter = 0;
        await TestSignal.UntilAsync(async () => (waiter = await LockWaiterAsync("second_held")) != 0, "the apply waits for second_held's lock");

        // Before: one transaction for every table, so first_done stayed ACCESS EXCLUSIVE (no reader, no writer) until the
        // last table was done: here until the holder of second_held ended, and on a first apply to hundreds of tables for
        // all of it (with a lock per relation at once in the server's lock table).
        Assert.Equal(0L, await LocksAsync(waiter, "first_done"));
        Assert.Equal((true, 1L), await RowSecurityAsync("first_done"));

        await holder.CommitAsync();
        var report = await apply.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Contains("first_done: created policy scaleops_tenant", report.Changes);
        Assert.Contains("second_held: created policy scaleops_tenant", report.Changes);
    }

    [Theory]
    [InlineData(nameof(RlsOptions.LockTimeout), "must be between 10 ms and 1 minute; it is 00:00:00.0010000")]
    [InlineData(nameof(RlsOptions.DdlAttempts), "must be between 1 and 1000; it is 0")]
    [InlineData(nameof(RlsOptions.DdlRetryDelay), "must be between 0 and 1 minute; it is -00:00:01")]
    public void Out_of_range_lock_settings_are_refused_naming_the_setting(string setting, string message)
    {
        using var services = RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            switch (setting)
            {
                case nameof(RlsOptions.LockTimeout):
                    o.LockTimeout = TimeSpan.FromMilliseconds(1);
                    break;
                case nameof(RlsOptions.DdlAttempts):
                    o.DdlAttempts = 0;
                    break;
                default:
                    o.DdlRetryDelay = TimeSpan.FromSeconds(-1);
                    break;
            }
        });
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<RlsOptions>>().Value);
        Assert.Contains($"ScaleOps:Rls:{setting} {message}", error.Message, StringComparison.Ordinal);
    }

    private RlsPolicyManager Manager(RlsOptions options, ILogger<RlsPolicyManager> logger, string table)
    {
        options.Tables.Add(new RlsTable("public", table));
        return new RlsPolicyManager(database.DataSource, Options.Create(options), logger);
    }

    private Task CreateTableAsync(string name) =>
        PostgresServer.ExecuteAsync($"CREATE TABLE {name} (id int PRIMARY KEY, tenant_id bigint NOT NULL); CREATE INDEX ON {name} (tenant_id)", database.Name);

    // The backend waiting (not granted) for a lock on the table; 0 when none waits yet.
    private async Task<int> LockWaiterAsync(string table)
    {
        await using var command = database.DataSource.CreateCommand(
            "SELECT coalesce(min(pid), 0) FROM pg_locks WHERE relation = $1::regclass AND NOT granted");
        command.Parameters.AddWithValue(table);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> LocksAsync(int pid, string table)
    {
        await using var command = database.DataSource.CreateCommand("SELECT count(*) FROM pg_locks WHERE pid = $1 AND relation = $2::regclass");
        command.Parameters.AddWithValue(pid);
        command.Parameters.AddWithValue(table);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<(bool RowSecurity, long Policies)> RowSecurityAsync(string table)
    {
        await using var command = database.DataSource.CreateCommand(
            "SELECT c.relrowsecurity, (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) FROM pg_class c WHERE c.oid = $1::regclass");
        command.Parameters.AddWithValue(table);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetBoolean(0), reader.GetInt64(1));
    }
}
