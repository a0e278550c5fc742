using System;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Data;

/// <summary>
/// The leader lock through pgbouncer in transaction pooling mode (its own database, so its own server pool, which holds
/// only the connections these tests make), and what a cancelled or finished lock leaves on its pooled connection.
/// </summary>
public class AdvisoryLockPoolingTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task Through_pgbouncer_a_second_host_does_not_become_leader_while_the_first_holds_the_lock()
    {
        await using var bouncer = NpgsqlDataSource.Create(PgBouncerServer.ConnectionStringFor(database.Name, "postgres"));
        await using var first = await AdvisoryLock.TryAcquireAsync(bouncer, "bouncer-two-leaders");
        Assert.NotNull(first);

        // A session lock stayed on the server connection that ran pg_try_advisory_lock, which pgbouncer handed to the
        // next client between transactions: this host's attempt ran in the same PostgreSQL session and was granted too.
        await using var second = await AdvisoryLock.TryAcquireAsync(bouncer, "bouncer-two-leaders");
        Assert.Null(second);
        Assert.True(await first.IsHeldAsync());

        // The leader's transaction stays open but holds back no cleanup horizon (no snapshot, no transaction id).
        await using var admin = await database.DataSource.OpenConnectionAsync();
        await using var sessions = new NpgsqlCommand(
            "SELECT count(*) FILTER (WHERE backend_xmin IS NULL AND backend_xid IS NULL), count(*) FROM pg_stat_activity "
            + "WHERE datname = current_database() AND state = 'idle in transaction'", admin);
        await using var reader = await sessions.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal((1L, 1L), (reader.GetInt64(0), reader.GetInt64(1)));
    }

    [Fact]
    public async Task Through_pgbouncer_a_released_lock_leaves_nothing_held_on_any_server_connection()
    {
        await using var bouncer = NpgsqlDataSource.Create(PgBouncerServer.ConnectionStringFor(database.Name, "postgres"));
        var leader = await AdvisoryLock.TryAcquireAsync(bouncer, "bouncer-left-behind");
        Assert.NotNull(leader);
        bool heldMeanwhile;

        // Another client of the same pool in a transaction: pgbouncer gives it an idle server connection (the one the
        // lock was taken on, if the lock left it idle) for as long as the transaction lasts.
        await using (var other = await bouncer.OpenConnectionAsync())
        await using (var transaction = await other.BeginTransactionAsync())
        {
            await using (var work = new NpgsqlCommand("SELECT 1", other, transaction))
            {
                await work.ExecuteScalarAsync();
            }

            heldMeanwhile = await leader.IsHeldAsync();
            await leader.DisposeAsync();
            Assert.False(await leader.IsHeldAsync());
            await transaction.RollbackAsync();
        }

        // The session lock stayed on the server connection the other client used: unlocked on another one, it was left
        // held by a session no handle knows, until pgbouncer closes that connection.
        Assert.Equal(0, await AdvisoryLocksAsync(leader.Key));
        await using var next = await AdvisoryLock.TryAcquireAsync(database.DataSource, "bouncer-left-behind");
        Assert.NotNull(next);
        Assert.True(heldMeanwhile, "the lock was reported lost while it was held");
    }

    [Fact]
    public async Task A_lock_attempt_cancelled_before_it_starts_throws_the_callers_cancellation_and_takes_nothing()
    {
        // No Reset On Close and one connection: a lock left on the returned connection would be found by the next attempt.
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { NoResetOnClose = true, MaxPoolSize = 1 };
        await using var dataSource = NpgsqlDataSource.Create(connectionString.ToString());
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => AdvisoryLock.TryAcquireAsync(dataSource, "cancelled-attempt", cancel.Token));
        Assert.Equal(cancel.Token, ex.CancellationToken);
        Assert.Equal(0, await AdvisoryLocksAsync(AdvisoryLock.KeyOf("cancelled-attempt")));
        await using var next = await AdvisoryLock.TryAcquireAsync(dataSource, "cancelled-attempt");
        Assert.NotNull(next);
    }

    /// <summary>How many advisory locks on <paramref name="key"/> any session of the test database holds.</summary>
    private async Task<long> AdvisoryLocksAsync(long key)
    {
        await using var admin = await database.DataSource.OpenConnectionAsync();
        await using var count = new NpgsqlCommand(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = ($1 & 4294967295)::oid "
            + "AND classid = (($1 >> 32) & 4294967295)::oid AND objsubid = 1 "
            + "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", admin);
        count.Parameters.Add(new NpgsqlParameter<long> { TypedValue = key });
        return (long)(await count.ExecuteScalarAsync())!;
    }
}
