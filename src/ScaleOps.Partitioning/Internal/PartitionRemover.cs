using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Npgsql;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>Detaches, then (for <see cref="PartitionActionKind.Drop"/>) drops one partition, each under the short lock timeout.</summary>
internal sealed class PartitionRemover(DdlRunner ddl, ILogger<PartitionRemover> logger)
{
    /// <param name="table">The parent.</param>
    /// <param name="partition">The partition's name.</param>
    /// <param name="kind">Drop or Detach.</param>
    /// <param name="expectedRows">When set (archived partitions), the detach rolls back unless the partition still has exactly this many rows.</param>
    /// <param name="fault">A test hook called after each step.</param>
    /// <param name="cancellationToken">Cancels between steps.</param>
    public async Task RemoveAsync(ManagedTable table, string partition, PartitionActionKind kind, long? expectedRows,
        Func<ArchiveStep, Task>? fault, CancellationToken cancellationToken)
    {
        var qualified = table.QualifyPartition(partition);
        // Detach first in both cases: DETACH needs the parent's lock only for a moment; the DROP of a detached table
        // then touches only that table. Rows written after the archive was verified would fail the count check.
        await ddl.RunAsync($"detach {partition}", async (connection, transaction) =>
        {
            if (expectedRows is { } expected)
            {
                // The count scans the partition: under a SHARE lock on the partition alone (its writers wait, every reader
                // and the rest of the table go on), before the DETACH, whose ACCESS EXCLUSIVE lock on the parent would
                // make every query of the table wait for the scan. SHARE keeps the count true until the commit.
                await using (var share = new NpgsqlCommand($"LOCK TABLE {qualified} IN SHARE MODE", connection, transaction))
                {
                    await share.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await using var count = new NpgsqlCommand($"SELECT count(*) FROM {qualified}", connection, transaction);
                var actual = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                if (actual != expected)
                {
                    throw new InvalidOperationException(
                        $"{qualified} has {actual} rows but its verified archive has {expected}; it was written to after archiving. Not removed.");
                }
            }

            await using (var detach = new NpgsqlCommand($"ALTER TABLE {table.Qualified} DETACH PARTITION {qualified}", connection, transaction))
            {
                await detach.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            return 0;
        }, cancellationToken).ConfigureAwait(false);
        if (fault is not null)
        {
            await fault(ArchiveStep.Detached).ConfigureAwait(false);
        }

        if (kind == PartitionActionKind.Drop)
        {
            await ddl.RunAsync($"drop {partition}", $"DROP TABLE {qualified}", cancellationToken).ConfigureAwait(false);
        }

        if (fault is not null)
        {
            await fault(ArchiveStep.Removed).ConfigureAwait(false);
        }

        Log.PartitionRemoved(logger, table.Qualified, partition, kind == PartitionActionKind.Drop ? "dropped" : "detached");
    }

    /// <summary>Drops a table left detached by an interrupted archive run, if it still exists, after checking its row count.</summary>
    public async Task DropDetachedAsync(ManagedTable table, string partition, long expectedRows, CancellationToken cancellationToken)
    {
        var qualified = table.QualifyPartition(partition);
        await ddl.RunAsync($"drop {partition}", async (connection, transaction) =>
        {
            await using var exists = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection, transaction);
            exists.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                return 0;
            }

            await using var count = new NpgsqlCommand($"SELECT count(*) FROM {qualified}", connection, transaction);
            var actual = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            if (actual != expectedRows)
            {
                throw new InvalidOperationException($"{qualified} has {actual} rows but its verified archive has {expectedRows}. Not dropped.");
            }

            await using var drop = new NpgsqlCommand($"DROP TABLE {qualified}", connection, transaction);
            return await drop.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        Log.PartitionRemoved(logger, table.Qualified, partition, "dropped");
    }
}
