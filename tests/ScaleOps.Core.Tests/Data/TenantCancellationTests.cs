using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Data;

/// <summary>
/// Tenant connections and transactions of the default data source cancelled by the caller, on a pool of one connection
/// that is not reset when returned (<c>No Reset On Close</c>, as through pgbouncer): whatever the cancelled work left
/// on the connection would reach its next user.
/// </summary>
public class TenantCancellationTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private async Task<ServiceProvider> ServicesAsync(string table)
    {
        await using (var setup = database.DataSource.CreateCommand($"CREATE TABLE {table} (id int PRIMARY KEY); INSERT INTO {table} VALUES (1)"))
        {
            await setup.ExecuteNonQueryAsync();
        }

        // Timeout: a connection the cancelled call kept would make the next open wait for the single pool slot, then fail.
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { NoResetOnClose = true, MaxPoolSize = 1, Timeout = 5 };
        var services = new ServiceCollection();
        services.AddScaleOps(o => o.ConnectionString = connectionString.ConnectionString);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task A_statement_cancelled_in_a_tenant_transaction_rolls_back_and_the_next_user_gets_a_clean_connection()
    {
        await using var services = await ServicesAsync("tc_rows");
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme"));
        var data = services.GetRequiredService<ITenantDataSource>();
        using var cancel = new CancellationTokenSource();

        // Another session holds row 1, so the transaction's update of it waits on the server.
        await using (var holder = await database.DataSource.OpenConnectionAsync())
        await using (var holding = await holder.BeginTransactionAsync())
        {
            await using (var hold = new NpgsqlCommand("SELECT id FROM tc_rows WHERE id = 1 FOR UPDATE", holder, holding))
            {
                await hold.ExecuteNonQueryAsync();
            }

            await using (var tx = await data.BeginTransactionAsync(cancellationToken: cancel.Token))
            {
                await using (var insert = tx.CreateCommand("INSERT INTO tc_rows VALUES (2)"))
                {
                    await insert.ExecuteNonQueryAsync(cancel.Token);
                }

                await using var update = tx.CreateCommand("UPDATE tc_rows SET id = 3 WHERE id = 1");
                var waiting = update.ExecuteNonQueryAsync(cancel.Token);
                await TestSignal.UntilAsync(
                    async () => await ScalarAsync("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.datname = current_database()") > 0,
                    "the update to wait for the row lock");
                await cancel.CancelAsync();
                var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TestSignal.DefaultTimeout));
                Assert.Equal(cancel.Token, ex.CancellationToken);
            }

            await holding.RollbackAsync();
        }

        // The insert before the cancelled statement was rolled back; the pool's one connection is in no transaction.
        Assert.Equal(0, await ScalarAsync(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"));
        await using var next = await data.OpenConnectionAsync();
        await using var check = next.CreateBatch("SELECT count(*) FROM tc_rows");
        Assert.Equal(1L, await check.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_begin_or_a_commit_with_a_cancelled_token_keeps_no_connection_and_commits_nothing()
    {
        await using var services = await ServicesAsync("tc_commit");
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme"));
        var data = services.GetRequiredService<ITenantDataSource>();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        var begin = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await data.BeginTransactionAsync(cancellationToken: cancelled.Token));
        Assert.Equal(cancelled.Token, begin.CancellationToken);

        await using (var tx = await data.BeginTransactionAsync())
        {
            await using (var insert = tx.CreateCommand("INSERT INTO tc_commit VALUES (2)"))
            {
                await insert.ExecuteNonQueryAsync();
            }

            var commit = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tx.CommitAsync(cancelled.Token));
            Assert.Equal(cancelled.Token, commit.CancellationToken);
        }

        Assert.Equal(0, await ScalarAsync(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"));
        await using var next = await data.OpenConnectionAsync();
        await using var check = next.CreateBatch("SELECT count(*) FROM tc_commit");
        Assert.Equal(1L, await check.ExecuteScalarAsync());
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
