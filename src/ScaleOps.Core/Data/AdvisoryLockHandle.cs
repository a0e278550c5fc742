using System;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Data;

/// <summary>A held advisory lock. Dispose it to release the lock and return its connection.</summary>
public sealed class AdvisoryLockHandle : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private int _disposed;

    internal AdvisoryLockHandle(NpgsqlConnection connection, NpgsqlTransaction transaction, string name, long key)
    {
        _connection = connection;
        _transaction = transaction;
        Name = name;
        Key = key;
    }

    /// <summary>The lock name.</summary>
    public string Name { get; }

    /// <summary>The 64-bit key.</summary>
    public long Key { get; }

    /// <summary>
    /// Checks that the lock is still held (its connection and transaction are alive). A leader calls this between units
    /// of work and stops when it returns false.
    /// </summary>
    /// <param name="cancellationToken">
    /// Cancels the check. A check cancelled while the server runs it aborts the lock's transaction, which releases the
    /// lock: later checks return false.
    /// </param>
    /// <returns>Whether the lock is still held.</returns>
    public async Task<bool> IsHeldAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return false;
        }

        try
        {
            return await AdvisoryLock.QueryAsync(
                _connection,
                _transaction,
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
                + "AND objid = ($1 & 4294967295)::oid AND classid = (($1 >> 32) & 4294967295)::oid AND objsubid = 1)",
                Key,
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Rolling back the lock's transaction releases the lock; nothing else was done on the connection.
        await AdvisoryLock.ReleaseAsync(_connection, _transaction).ConfigureAwait(false);
    }
}
