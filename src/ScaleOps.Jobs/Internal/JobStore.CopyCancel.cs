using System;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Jobs.Internal;

/// <summary>The cancellation of a large COPY whose synchronous writes wait for the server.</summary>
internal sealed partial class JobStore
{
    /// <summary>
    /// Estimated COPY size above which the synchronous writes may fill the socket while the server waits (a lock, a slow
    /// disk), and then block, deaf to the caller's token, until the command timeout. Such a COPY gets a
    /// <see cref="BackendCanceller"/>; a smaller one waits in <c>CompleteAsync</c>, which observes the token.
    /// </summary>
    internal const long CopyCancellerBytes = 64 * 1024;

    private static bool MayBlockWriting(string[] payloads)
    {
        long bytes = 0;
        foreach (var payload in payloads)
        {
            bytes += payload.Length + 64; // the payload's characters (at least its UTF-8 bytes' worth) and the other columns
            if (bytes > CopyCancellerBytes)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Starts a <see cref="BackendCanceller"/> for the COPY about to run on <paramref name="connection"/> in
    /// <paramref name="transaction"/> (or the connection's own). The backend's pid is read in that transaction, which
    /// pins the server connection behind pgbouncer too.
    /// </summary>
    private async Task<BackendCanceller> CancellerAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_backend_pid()", connection, transaction);
        var pid = (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        return new BackendCanceller(_dataSource, pid, cancellationToken);
    }

    /// <summary>
    /// When the token fires, asks PostgreSQL (<c>pg_cancel_backend</c>, on another pooled connection) to cancel what the
    /// backend runs: a cancelled COPY discards the rest of its input, so the client's blocked writes complete, and the
    /// importer's <c>CompleteAsync</c> then sees the token. Dispose it before the session may run anything else: the
    /// dispose waits for a cancellation in flight, and none is sent after it (a late one reaches an idle backend, which
    /// ignores it). Best effort: without the right to signal that backend, the write times out as before.
    /// </summary>
    private sealed class BackendCanceller : IAsyncDisposable
    {
        private readonly NpgsqlDataSource _dataSource;
        private readonly int _pid;
        private readonly CancellationTokenRegistration _registration;
        private Task? _cancel;

        public BackendCanceller(NpgsqlDataSource dataSource, int pid, CancellationToken cancellationToken)
        {
            _dataSource = dataSource;
            _pid = pid;
            _registration = cancellationToken.Register(static state => ((BackendCanceller)state!).Start(), this);
        }

        private void Start() => Volatile.Write(ref _cancel, Task.Run(CancelAsync));

        private async Task CancelAsync()
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(CancellationToken.None).ConfigureAwait(false);
                await using var command = new NpgsqlCommand("SELECT pg_cancel_backend($1)", connection);
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _pid });
                await command.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or ObjectDisposedException or TimeoutException)
            {
                // Not cancelled: the blocked write ends at the command timeout.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _registration.DisposeAsync().ConfigureAwait(false); // waits for a callback that is running
            if (Volatile.Read(ref _cancel) is { } cancel)
            {
                await cancel.ConfigureAwait(false);
            }
        }
    }
}
