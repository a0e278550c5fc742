using System;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Internal;

namespace ScaleOps.Data;

/// <summary>
/// Leader election by PostgreSQL session advisory lock: work that exactly one host must do (partition maintenance,
/// recurring-job scheduling) runs only while its lock is held. The lock lives on one dedicated connection and is
/// released when the handle is disposed or when that connection dies, so a crashed leader never blocks the others.
/// </summary>
/// <remarks>
/// Session locks need a session: point the data source at PostgreSQL directly, not through a transaction-pooling proxy.
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
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = key });
            var acquired = (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            if (acquired)
            {
                return new AdvisoryLockHandle(connection, name, key);
            }
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await connection.DisposeAsync().ConfigureAwait(false);
        return null;
    }
}
