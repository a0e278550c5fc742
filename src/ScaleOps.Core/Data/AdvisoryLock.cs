using System;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Internal;

namespace ScaleOps.Data;

/// <summary>
/// Leader election by PostgreSQL advisory lock: work that exactly one host must do (partition maintenance,
/// recurring-job scheduling) runs only while its lock is held. The lock is transaction-level, taken in a transaction
/// that one dedicated connection keeps open (idle, holding no snapshot) while the handle lives; it is released when the
/// handle is disposed (rollback) or when that connection dies, so a crashed leader never blocks the others.
/// </summary>
/// <remarks>
/// Nothing outlives the transaction on the pooled connection, and pgbouncer in transaction pooling mode keeps the open
/// transaction on one server connection: the lock works there too. (A session lock did not: pgbouncer handed the session
/// holding it to other clients, which were granted the same lock, and the unlock could run on another session and leave
/// it held.) The session shows as <c>idle in transaction</c>; the transaction sets <c>idle_in_transaction_session_timeout</c>
/// to 0 for itself, so a server-wide timeout does not end it (it holds no snapshot and no transaction id, so it holds back
/// neither vacuum nor anything else). A session ended otherwise (terminated, the connection lost) releases the lock, and
/// <see cref="AdvisoryLockHandle.IsHeldAsync"/> then returns false.
/// </remarks>
public static class AdvisoryLock
{
    /// <summary>The stable 64-bit key of a lock name (the first 8 bytes of its SHA-256), the same in every process.</summary>
    /// <param name="name">The lock name, for example <c>scaleops:partitioning:maintenance</c>.</param>
    /// <returns>The key passed to <c>pg_advisory_lock</c>.</returns>
    /// <exception cref="ArgumentException">The name is empty or contains an unpaired surrogate.</exception>
    public static long KeyOf(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Utf16.FirstUnpairedSurrogate(name) is var i and >= 0)
        {
            // The UTF-8 encoder would hash it as U+FFFD: every such name would share one lock.
            throw new ArgumentException(
                $"A lock name cannot contain an unpaired surrogate (U+{(int)name[i]:X4} at index {i}); it has no UTF-8 form.", nameof(name));
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(name), hash);
        return BitConverter.ToInt64(hash[..8]);
    }

    /// <summary>Tries to take the lock without waiting.</summary>
    /// <param name="dataSource">The data source.</param>
    /// <param name="name">The lock name.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The held lock, or <see langword="null"/> when another session holds it.</returns>
    public static async Task<AdvisoryLockHandle?> TryAcquireAsync(NpgsqlDataSource dataSource, string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var key = KeyOf(name);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        NpgsqlTransaction? transaction = null;
        try
        {
            transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var acquired = await QueryAsync(connection, transaction, "SELECT pg_try_advisory_xact_lock($1)", key, cancellationToken).ConfigureAwait(false);
            if (acquired)
            {
                return new AdvisoryLockHandle(connection, transaction, name, key);
            }
        }
        catch
        {
            await ReleaseAsync(connection, transaction).ConfigureAwait(false);
            throw;
        }

        await ReleaseAsync(connection, transaction).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// Runs a one-value query in the lock's transaction, turns the server's idle-in-transaction timeout off for the
    /// transaction, and ends with a statement that needs no snapshot: it replaces the
    /// query's unnamed portal, which would otherwise keep its snapshot, and so hold back the server's cleanup horizon
    /// (vacuum), for as long as the transaction stays open.
    /// </summary>
    internal static async Task<bool> QueryAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, long key, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        var query = new NpgsqlBatchCommand(sql);
        query.Parameters.Add(new NpgsqlParameter<long> { TypedValue = key });
        batch.BatchCommands.Add(query);

        // The transaction is meant to stay idle while the leader works: a server-wide idle_in_transaction_session_timeout
        // (common on managed services) would end the session, and the lock with it, in the middle of the leader's work.
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL idle_in_transaction_session_timeout = 0"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SHOW transaction_isolation"));
        return (bool)(await batch.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Ends the lock's transaction (rolling back releases the lock) and returns the connection to the pool.</summary>
    internal static async ValueTask ReleaseAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        try
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            // The connection broke: the server ended the transaction, and the lock with it.
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
