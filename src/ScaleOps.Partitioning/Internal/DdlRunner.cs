using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Runs DDL in a transaction with a short <c>lock_timeout</c>: a statement that cannot get its lock gives up instead of
/// queueing live readers and writers behind it, and is retried after a growing pause (TimeProvider). With
/// <c>row_security = off</c>, a statement that row-level security would filter (moving, counting or checking rows of a
/// protected table as a role subject to it) fails instead of silently seeing only some rows. <c>TimeZone = UTC</c> and
/// <c>DateStyle = ISO, YMD</c>: dates and timestamps the body reads as text (a partition bound, a CHECK constraint's
/// definition) print as <c>2026-11-01 00:00:00+00</c> whatever the database's or role's own DateStyle is.
/// </summary>
internal sealed class DdlRunner(NpgsqlDataSource dataSource, IOptions<PartitioningOptions> options, TimeProvider time, ILogger<DdlRunner> logger)
{
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    public async Task<T> RunAsync<T>(string what, Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> body, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var delay = o.DdlRetryDelay;
        var setup = string.Create(CultureInfo.InvariantCulture,
            $"SET LOCAL lock_timeout = {Math.Max(1, (int)o.LockTimeout.TotalMilliseconds)}; SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL row_security = off");
        for (var attempt = 1; ; attempt++)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await using (var command = new NpgsqlCommand(setup, connection, transaction))
                {
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                var result = await body(connection, transaction).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable && attempt < o.DdlAttempts)
            {
                Log.DdlLockTimeout(logger, what, attempt, o.DdlAttempts, delay);
            }

            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(MaxDelay.Ticks, Math.Max(delay.Ticks * 2, 1)));
        }
    }

    public Task RunAsync(string what, string sql, CancellationToken cancellationToken) =>
        RunAsync(what, async (connection, transaction) =>
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
}
