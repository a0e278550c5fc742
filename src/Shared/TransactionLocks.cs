using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Internal;

/// <summary>
/// The lock discipline of ScaleOps' schema changes (Core's migrations, ScaleOps.Rls' policies and a shard's context
/// procedure): hosts take turns under a transaction-level advisory lock whose wait is bounded, and once it is granted
/// every table lock the transaction asks for is bounded by <c>lock_timeout</c>, so DDL on a busy table gives up instead
/// of queueing the table's readers and writers behind its request. Compiled into ScaleOps.Core and ScaleOps.Rls.
/// </summary>
internal static class TransactionLocks
{
    /// <summary>
    /// Waits for the advisory lock <paramref name="key"/> in <paramref name="transaction"/> (released when it ends) for at
    /// most <paramref name="timeoutSeconds"/>; when another session holds it longer, throws what
    /// <paramref name="notGranted"/> makes of the command's timeout.
    /// </summary>
    public static async Task LockAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        long key,
        int timeoutSeconds,
        Func<NpgsqlException, Exception> notGranted,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_catalog.pg_advisory_xact_lock($1)", connection, transaction);
        command.CommandTimeout = timeoutSeconds;
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = key });
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException ex) when (ex.InnerException is TimeoutException)
        {
            throw notGranted(ex);
        }
    }

    /// <summary>Bounds every later lock wait of the transaction (<c>SET LOCAL lock_timeout</c>, at least 1 ms).</summary>
    public static async Task BoundLockWaitsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        var ms = Math.Max(1, (long)lockTimeout.TotalMilliseconds);
        await using var command = new NpgsqlCommand(
            string.Create(CultureInfo.InvariantCulture, $"SET LOCAL lock_timeout = {ms}"), connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A command timeout in whole seconds (at least 1) for a wait of <paramref name="timeout"/>.</summary>
    public static int Seconds(TimeSpan timeout) => (int)Math.Clamp(Math.Ceiling(timeout.TotalSeconds), 1, int.MaxValue);
}
