using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Enqueues cancelled by the caller while the server works on them: rows of queue <c>q-blocked</c> wait in a trigger
/// for an advisory lock the test holds, so a COPY (or an INSERT) is cancelled in the middle of its rows.
/// </summary>
[Collection(ThreadBlockingCollection.Name)]
public class EnqueueCancellationTests(EnqueueCancellationTests.BlockingJobsDatabase database) : IClassFixture<EnqueueCancellationTests.BlockingJobsDatabase>
{
    private const long Gate = 7331;

    /// <summary>A jobs database (its own, per class) whose inserts into queue <c>q-blocked</c> wait for <see cref="Gate"/>.</summary>
    public sealed class BlockingJobsDatabase : JobsDatabase
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await ExecuteAsync($"""
                CREATE FUNCTION public.wait_for_gate() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.queue = 'q-blocked' THEN
                        PERFORM pg_advisory_xact_lock_shared({Gate});
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER wait_for_gate BEFORE INSERT ON scaleops.jobs FOR EACH ROW EXECUTE FUNCTION public.wait_for_gate();
                """);
        }
    }

    public enum Connection
    {
        Pooled,
        CallersTransaction,
        CallersConnection,
    }

    [Theory]
    [InlineData(Connection.Pooled)]
    [InlineData(Connection.CallersTransaction)]
    [InlineData(Connection.CallersConnection)]
    public async Task A_batch_cancelled_during_its_COPY_throws_the_callers_cancellation_inserts_nothing_and_leaves_the_connection_clean(
        Connection connection)
    {
        await database.ExecuteAsync("DELETE FROM scaleops.jobs WHERE queue = 'q-blocked'");
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);
        var batch = Enumerable.Range(0, 500).Select(i => new Ping(i)).ToArray();
        await using var caller = await database.DataSource.OpenConnectionAsync();
        // Npgsql cannot cancel a COPY in place: it closes the connection, and the caller's transaction ends with it. The
        // server then finishes the COPY it already has every row of, and must not commit it: a COPY run in its own
        // implicit transaction (the caller's connection without a transaction) committed all of them, with the caller
        // told it was cancelled and no NOTIFY sent.
        await CancelAtTheGateAndExpectNothingAsync(host, caller, connection, batch);

        // And the same enqueue goes through afterwards.
        Assert.Equal(batch.Length, await host.Client.EnqueueManyAsync(batch, new JobOptions { Queue = "q-blocked" }));
        await database.ExecuteAsync("DELETE FROM scaleops.jobs WHERE queue = 'q-blocked'");
    }

    /// <summary>
    /// 200,000 rows (some 20 MB) are more than the server takes while its first row waits at the gate: the COPY's
    /// writer is stuck sending the rest when the caller cancels. It must stop at once, not when the server reads again.
    /// </summary>
    [Theory]
    [InlineData(Connection.Pooled)]
    [InlineData(Connection.CallersTransaction)]
    [InlineData(Connection.CallersConnection)]
    public async Task A_large_batch_cancelled_while_its_COPY_sends_rows_stops_before_the_server_reads_them_and_inserts_nothing(Connection connection)
    {
        await database.ExecuteAsync("DELETE FROM scaleops.jobs WHERE queue = 'q-blocked'");

        // No command timeout: Npgsql's write timeout (the command timeout) would end a blocked write by itself.
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { CommandTimeout = 0 }.ConnectionString;
        await using var host = await JobsHost.StartAsync(connectionString, o => o.RunWorker = false);
        var batch = Enumerable.Range(0, 200_000).Select(i => new Ping(i, "a tag that makes the row longer")).ToArray();
        await using var caller = new NpgsqlConnection(connectionString);
        await caller.OpenAsync();
        // The gate stays held while the cancellation is awaited: an enqueue that only stops once the server reads the
        // rest never ends here.
        await CancelAtTheGateAndExpectNothingAsync(host, caller, connection, batch);
    }

    /// <summary>
    /// Enqueues <paramref name="batch"/> in queue <c>q-blocked</c> through <paramref name="connection"/>'s path, cancels once
    /// its first row waits at the gate (the gate still held), and expects the caller's cancellation, no session left
    /// busy and no row inserted.
    /// </summary>
    private async Task CancelAtTheGateAndExpectNothingAsync(JobsHost host, NpgsqlConnection caller, Connection connection, Ping[] batch)
    {
        var transaction = connection == Connection.CallersTransaction ? await caller.BeginTransactionAsync() : null;
        using var cancel = new CancellationTokenSource();
        await using (var gate = await HoldGateAsync())
        {
            var options = new JobOptions { Queue = "q-blocked" };
            var enqueue = connection == Connection.Pooled
                ? host.Client.EnqueueManyAsync(batch, options, cancel.Token)
                : host.Client.EnqueueManyAsync(caller, transaction, batch, options, cancel.Token);
            await WaitingAtTheGateAsync(); // the first rows are written
            await cancel.CancelAsync();

            var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => enqueue.WaitAsync(TestSignal.DefaultTimeout));
            Assert.Equal(cancel.Token, ex.CancellationToken);
        }

        await NoSessionLeftBusyAsync();
        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'q-blocked'"));
        if (transaction is not null)
        {
            await transaction.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_batch_on_the_callers_connection_in_a_transaction_begun_in_SQL_joins_that_transaction()
    {
        await database.ExecuteAsync("DELETE FROM scaleops.jobs WHERE queue = 'q-sql-tx'");
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);
        await using var caller = await database.DataSource.OpenConnectionAsync();
        await using (var begin = new NpgsqlCommand("BEGIN", caller))
        {
            await begin.ExecuteNonQueryAsync();
        }

        Assert.Equal(3, await host.Client.EnqueueManyAsync(caller, null, [new Ping(1), new Ping(2), new Ping(3)], new JobOptions { Queue = "q-sql-tx" }, default));
        await using (var rollback = new NpgsqlCommand("ROLLBACK", caller))
        {
            await rollback.ExecuteNonQueryAsync();
        }

        Assert.Equal(0, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'q-sql-tx'"));
    }

    [Fact]
    public async Task A_single_enqueue_cancelled_during_its_insert_in_the_callers_transaction_leaves_the_connection_usable()
    {
        await database.ExecuteAsync("DELETE FROM scaleops.jobs WHERE queue = 'q-blocked'");
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);
        await using var caller = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await caller.BeginTransactionAsync();
        using var cancel = new CancellationTokenSource();
        await using (var gate = await HoldGateAsync())
        {
            var enqueue = host.Client.EnqueueAsync(caller, transaction, new Ping(1), new JobOptions { Queue = "q-blocked" }, cancel.Token);
            await WaitingAtTheGateAsync();
            await cancel.CancelAsync();
            var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => enqueue.WaitAsync(TestSignal.DefaultTimeout));
            Assert.Equal(cancel.Token, ex.CancellationToken);
        }

        await transaction.RollbackAsync();
        await using var check = new NpgsqlCommand("SELECT count(*) FROM scaleops.jobs WHERE queue = 'q-blocked'", caller);
        Assert.Equal(0L, await check.ExecuteScalarAsync());
        await NoSessionLeftBusyAsync();
    }

    /// <summary>Holds the gate on a connection of its own until disposed.</summary>
    private async Task<Held> HoldGateAsync()
    {
        var connection = await database.DataSource.OpenConnectionAsync();
        await using var take = new NpgsqlCommand($"SELECT pg_advisory_lock({Gate})", connection);
        await take.ExecuteNonQueryAsync();
        return new Held(connection);
    }

    private sealed class Held(NpgsqlConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await using (var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({Gate})", connection))
            {
                await release.ExecuteNonQueryAsync();
            }

            await connection.DisposeAsync();
        }
    }

    private Task WaitingAtTheGateAsync() => TestSignal.UntilAsync(
        async () => await database.ScalarAsync<long>(
            $"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = {Gate} AND classid = 0 "
            + "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") > 0,
        "an insert to wait at the gate");

    /// <summary>No session of the test database is left in a transaction or a COPY (the pool's sessions go idle).</summary>
    private Task NoSessionLeftBusyAsync() => TestSignal.UntilAsync(
        async () => await database.ScalarAsync<long>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            + "AND backend_type = 'client backend' AND state <> 'idle'") == 0,
        "every session of the database to be idle");
}
