using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Npgsql;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>Detaches, then (for <see cref="PartitionActionKind.Drop"/>) drops one partition, each under the short lock timeout.</summary>
internal sealed class PartitionRemover(DdlRunner ddl, ILogger<PartitionRemover> logger)
{
    /// <param name="table">The parent.</param>
    /// <param name="partition">The partition's name.</param>
    /// <param name="kind">Drop or Detach.</param>
    /// <param name="archived">When set (archived partitions), the detach rolls back unless the partition still holds exactly
    /// the archived rows: the same count and the same row checksum.</param>
    /// <param name="fault">A test hook called after each step.</param>
    /// <param name="cancellationToken">Cancels between steps.</param>
    public async Task RemoveAsync(ManagedTable table, string partition, PartitionActionKind kind, ArchiveManifest? archived,
        Func<ArchiveStep, Task>? fault, CancellationToken cancellationToken)
    {
        var qualified = table.QualifyPartition(partition);
        // Detach first in both cases: DETACH needs the parent's lock only for a moment; the DROP of a detached table
        // then touches only that table. Rows written or changed after the archive was verified fail the check.
        await ddl.RunAsync($"detach {partition}", async (connection, transaction) =>
        {
            if (archived is not null)
            {
                // The check scans the partition: under a SHARE lock on the partition alone (its writers wait, every reader
                // and the rest of the table go on), before the DETACH, whose ACCESS EXCLUSIVE lock on the parent would
                // make every query of the table wait for the scan. SHARE keeps the rows as checked until the commit.
                await using (var share = new NpgsqlCommand($"LOCK TABLE {qualified} IN SHARE MODE", connection, transaction))
                {
                    await share.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await CheckArchivedAsync(connection, transaction, qualified, archived, "removed", cancellationToken).ConfigureAwait(false);
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

        // Retention's own removal, or an archive's (on request, or retention with Archive on): not always retention's.
        var removed = kind == PartitionActionKind.Drop ? "dropped" : "detached";
        Log.PartitionRemoved(logger, table.Qualified, partition, archived is null ? char.ToUpperInvariant(removed[0]) + removed[1..] : "Archived and " + removed);
    }

    /// <summary>Drops a table left detached by an interrupted archive run, if it still exists, after checking it still holds the archived rows.</summary>
    public async Task DropDetachedAsync(ManagedTable table, string partition, ArchiveManifest archived, CancellationToken cancellationToken)
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

            await using (var share = new NpgsqlCommand($"LOCK TABLE {qualified} IN SHARE MODE", connection, transaction))
            {
                await share.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await CheckArchivedAsync(connection, transaction, qualified, archived, "dropped", cancellationToken).ConfigureAwait(false);
            await using var drop = new NpgsqlCommand($"DROP TABLE {qualified}", connection, transaction);
            return await drop.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        Log.PartitionRemoved(logger, table.Qualified, partition, "Archived and dropped");
    }

    /// <summary>
    /// Throws (the caller's transaction then rolls back) unless the table holds exactly the archived rows: the count,
    /// then the row checksum computed as the export did. A row updated after the export (an erasure, a correction) has
    /// the same count but not the same checksum: dropping it would keep only the archive's old values.
    /// </summary>
    private static async Task CheckArchivedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string qualified, ArchiveManifest archived,
        string what, CancellationToken cancellationToken)
    {
        long actual;
        await using (var count = new NpgsqlCommand($"SELECT count(*) FROM {qualified}", connection, transaction))
        {
            actual = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        if (actual != archived.Rows)
        {
            throw new InvalidOperationException(
                $"{qualified} has {actual} rows but its verified archive has {archived.Rows}; it was written to after archiving. Not {what}.");
        }

        var now = await ParquetArchiveFile.ChecksumAsync(connection, transaction, qualified, archived.Columns, cancellationToken).ConfigureAwait(false);
        if (now is null || now.RowChecksum != archived.RowChecksum)
        {
            throw new InvalidOperationException(
                $"{qualified} no longer holds the rows of its verified archive (their checksum differs); it was changed after archiving. Not {what}.");
        }
    }
}
