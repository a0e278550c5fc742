using System;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Data;

/// <summary>A held advisory lock. Dispose it to release the lock and return its connection.</summary>
public sealed class AdvisoryLockHandle : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private int _disposed;

    internal AdvisoryLockHandle(NpgsqlConnection connection, string name, long key)
    {
        _connection = connection;
        Name = name;
        Key = key;
    }

    /// <summary>The lock name.</summary>
    public string Name { get; }

    /// <summary>The 64-bit key.</summary>
    public long Key { get; }

    /// <summary>
    /// Checks that the lock is still held (its connection is alive). A leader calls this between units of work and
    /// stops when it returns false.
    /// </summary>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>Whether the lock is still held.</returns>
    public async Task<bool> IsHeldAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return false;
        }

        try
        {
            await using var command = new NpgsqlCommand(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
                + "AND objid = ($1 & 4294967295)::oid AND classid = (($1 >> 32) & 4294967295)::oid AND objsubid = 1)",
                _connection);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Key });
            return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
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

        try
        {
            if (_connection.State != System.Data.ConnectionState.Open)
            {
                return;
            }

            await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", _connection);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Key });
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            // The connection is gone, and the lock with it.
        }
        finally
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
