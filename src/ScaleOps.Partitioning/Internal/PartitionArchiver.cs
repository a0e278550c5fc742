using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Export → upload → read back and verify → manifest; removal only after the manifest exists (done by the caller or by
/// <see cref="ArchiveAsync(string, string, string, CancellationToken)"/>). Each step is idempotent, so a crashed run resumes.
/// </summary>
internal sealed partial class PartitionArchiver(
    NpgsqlDataSource dataSource,
    PartitionStore store,
    PartitionRemover remover,
    DdlRunner ddl,
    ArchiveBlobs blobs,
    PartitioningMetrics metrics,
    IOptions<PartitioningOptions> options,
    IOptions<ScaleOpsOptions> scaleOpsOptions,
    DatabaseClock clock,
    ILogger<PartitionArchiver> logger) : IPartitionArchiver
{
    /// <summary>A test hook called after each step; throwing from it simulates a crash there.</summary>
    internal Func<ArchiveStep, Task>? Fault { get; set; }

    public async Task<ArchiveManifest> ArchiveAsync(string schema, string table, string partition, CancellationToken cancellationToken = default)
    {
        var managed = Find(schema, table);
        var info = (await store.PartitionListAsync(managed.Qualified, cancellationToken).ConfigureAwait(false))
            .FirstOrDefault(p => p.Name == partition && managed.InOwnSchema(p));
        if (info is not null && (info.IsDefault || info.To is not { } to || to > clock.GetUtcNow().UtcDateTime))
        {
            // Archiving removes the partition: an open one (current or ahead) would make every INSERT of its period fail
            // until maintenance recreated it, and its rows written after the export would not be in the archive.
            throw new PartitionNotClosedException(partition,
                $"{partition} of {managed.Qualified} is not closed (its upper bound {(info.IsDefault ? "is DEFAULT" : info.To is { } t ? t.ToString("u", System.Globalization.CultureInfo.InvariantCulture) : "is MAXVALUE")} is not in the past); "
                + "only a partition whose period has ended can be archived.");
        }

        if (info is null)
        {
            // Resuming a run that stopped after the detach: the manifest must exist and verify; then only the drop is left.
            var verified = await blobs.ReadManifestAsync(schema, table, partition, cancellationToken).ConfigureAwait(false);
            if (verified is null || !await VerifyAsync(verified, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"{partition} is not a partition of {managed.Qualified} and has no verified archive.");
            }

            // Another database's archive of a partition of that name (one container for two databases) is not this one's.
            var database = await DatabaseIdAsync(cancellationToken).ConfigureAwait(false);
            if (OtherDatabase(verified, database))
            {
                throw new InvalidOperationException(
                    $"{partition} is not a partition of {managed.Qualified}, and its archive in the container was written by another database "
                    + $"(archive identity {verified.DatabaseId}; this database's is {database}); nothing was dropped. Give each database its own "
                    + $"{PartitioningDefaults.Section}:ArchiveContainer.");
            }

            if (managed.Options.RetentionMode == RetentionMode.Drop)
            {
                await remover.DropDetachedAsync(managed, partition, verified, cancellationToken).ConfigureAwait(false);
            }

            return verified;
        }

        var manifest = await ArchiveAsync(managed, partition, cancellationToken).ConfigureAwait(false);
        var kind = managed.Options.RetentionMode == RetentionMode.Drop ? PartitionActionKind.Drop : PartitionActionKind.Detach;
        await remover.RemoveAsync(managed, partition, kind, manifest, Fault, cancellationToken).ConfigureAwait(false);
        return manifest;
    }

    public Task<ArchiveManifest?> GetManifestAsync(string schema, string table, string partition, CancellationToken cancellationToken = default) =>
        blobs.ReadManifestAsync(schema, table, partition, cancellationToken);

    internal Task<ArchiveManifest?> GetManifestAsync(ManagedTable table, string partition, CancellationToken cancellationToken) =>
        blobs.ReadManifestAsync(table.Options.Schema, table.Options.Name, partition, cancellationToken);

    /// <summary>Archives and verifies; does not remove. Returns at once when a verified archive of the same rows exists.</summary>
    internal async Task<ArchiveManifest> ArchiveAsync(ManagedTable table, string partition, CancellationToken cancellationToken)
    {
        var o = table.Options;
        var info = (await store.PartitionListAsync(table.Qualified, cancellationToken).ConfigureAwait(false))
            .FirstOrDefault(p => p.Name == partition && table.InOwnSchema(p))
            ?? throw new InvalidOperationException($"{partition} is not a partition of {table.Qualified} in its schema {table.QuotedSchema}.");
        var qualified = table.QualifyPartition(partition);

        // A manifest from an earlier run is reused only if the partition still holds exactly its rows (count and row
        // checksum: an UPDATE keeps the count) and the blob still verifies; otherwise the partition is exported again.
        var relationId = await RelationIdAsync(qualified, cancellationToken).ConfigureAwait(false);
        var database = await DatabaseIdAsync(cancellationToken).ConfigureAwait(false);
        var existing = await blobs.ReadManifestAsync(o.Schema, o.Name, partition, cancellationToken).ConfigureAwait(false);
        // One written before LowerBound for a partition bounded by MINVALUE or '-infinity' (From 0001-01-01) is not: its
        // restore is refused until its bound is said, and the partition can say it now. Nor is another database's.
        if (existing is not null
            && !OtherDatabase(existing, database)
            && (existing.LowerBound is not null || existing.From != DateTime.MinValue)
            && existing.Rows == await store.CountAsync(qualified, cancellationToken).ConfigureAwait(false)
            && await HoldsArchivedRowsAsync(qualified, existing, cancellationToken).ConfigureAwait(false)
            && await VerifyAsync(existing, cancellationToken).ConfigureAwait(false))
        {
            return existing;
        }

        // Exported from this very table, the old archive is replaced (rows changed since, an erasure). From another
        // table of the same name (removed since: its archive is the only copy of its rows), it is kept first. So is
        // another database's (one container for two databases): equal oids do not make it this table, since two
        // databases built by the same migrations can have the same; writing over it lost that database's rows.
        if (existing is not null && (existing.RelationId != relationId || OtherDatabase(existing, database)))
        {
            await KeepEarlierAsync(existing, qualified, database, cancellationToken).ConfigureAwait(false);
        }

        var file = Path.Combine(Path.GetTempPath(), $"scaleops-archive-{Guid.NewGuid():N}.parquet");
        try
        {
            ParquetArchiveFile.Result exported;
            System.Collections.Generic.List<ArchiveColumn> columns;
            await using (var output = new FileStream(file, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                (columns, exported) = await ParquetArchiveFile.ExportAsync(dataSource, qualified, output, options.Value.ArchiveRowGroupSize, cancellationToken)
                    .ConfigureAwait(false);
            }

            await StepAsync(partition, ArchiveStep.Exported, exported.Rows).ConfigureAwait(false);

            string fileSha;
            await using (var input = File.OpenRead(file))
            {
                fileSha = Convert.ToHexStringLower(await SHA256.HashDataAsync(input, cancellationToken).ConfigureAwait(false));
            }

            var blobName = ArchiveBlobs.DataName(o.Schema, o.Name, partition);
            await using (var input = File.OpenRead(file))
            {
                await blobs.UploadAsync(blobName, input, cancellationToken).ConfigureAwait(false);
            }

            await StepAsync(partition, ArchiveStep.Uploaded, exported.Rows).ConfigureAwait(false);

            var manifest = new ArchiveManifest
            {
                Schema = o.Schema,
                Table = o.Name,
                Partition = partition,
                From = info.From, // null for MINVALUE and '-infinity' (LowerBound says which)
                LowerBound = await LowerBoundAsync(qualified, info, cancellationToken).ConfigureAwait(false),
                To = info.To ?? DateTime.MaxValue,
                Rows = exported.Rows,
                RowChecksum = exported.RowChecksum,
                FileSha256 = fileSha,
                Blob = blobName,
                Columns = columns,
                ArchivedAt = clock.GetUtcNow(),
                RelationId = relationId,
                DatabaseId = database,
            };
            if (!await VerifyAsync(manifest, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidDataException($"The uploaded archive of {qualified} does not match what was exported; the partition is kept.");
            }

            await StepAsync(partition, ArchiveStep.Verified, exported.Rows).ConfigureAwait(false);
            await blobs.WriteManifestAsync(manifest, cancellationToken).ConfigureAwait(false);
            await StepAsync(partition, ArchiveStep.ManifestWritten, exported.Rows).ConfigureAwait(false);
            metrics.Archived(exported.Rows);
            return manifest;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// The partition's lower bound for <see cref="ArchiveManifest.LowerBound"/>: <c>MINVALUE</c> or <c>-infinity</c>
    /// (<see cref="PartitionInfo.From"/> is null for both, and so is the manifest's From), else From in ISO UTC.
    /// </summary>
    private async Task<string> LowerBoundAsync(string qualified, PartitionInfo info, CancellationToken cancellationToken)
    {
        if (info.From is { } from)
        {
            return PartitionPeriods.Literal(from, "timestamp with time zone");
        }

        var bound = await store.PartitionBoundAsync(qualified, cancellationToken).ConfigureAwait(false);
        return (bound is null ? null : PartitionStore.LowerBoundText(bound)) switch
        {
            "MINVALUE" => "MINVALUE",
            "'-infinity'" => "-infinity",
            var other => throw new InvalidOperationException($"Cannot read the lower bound of {qualified} ('{other ?? bound}'); it is not archived."),
        };
    }

    private async Task<bool> HoldsArchivedRowsAsync(string qualified, ArchiveManifest manifest, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var now = await ParquetArchiveFile.ChecksumAsync(connection, transaction, qualified, manifest.Columns, cancellationToken).ConfigureAwait(false);
        return now is not null && now.Rows == manifest.Rows && now.RowChecksum == manifest.RowChecksum;
    }

    /// <summary>Downloads the blob and checks its bytes, row count and row checksum against the manifest.</summary>
    internal async Task<bool> VerifyAsync(ArchiveManifest manifest, CancellationToken cancellationToken)
    {
        var file = Path.Combine(Path.GetTempPath(), $"scaleops-verify-{Guid.NewGuid():N}.parquet");
        try
        {
            if (!await blobs.DownloadAsync(manifest.Blob, file, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            await using var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            var sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(input, cancellationToken).ConfigureAwait(false));
            input.Position = 0;
            var read = await ParquetArchiveFile.ReadAsync(input, manifest.Columns, null, cancellationToken).ConfigureAwait(false);
            return sha == manifest.FileSha256 && read.Rows == manifest.Rows && read.RowChecksum == manifest.RowChecksum;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private ManagedTable Find(string schema, string table) =>
        ManagedTable.From(options.Value, scaleOpsOptions.Value.Schema).FirstOrDefault(t => t.Options.Schema == schema && t.Options.Name == table)
        ?? throw new InvalidOperationException($"{schema}.{table} is not a table configured in {PartitioningDefaults.Section}.");

    private async Task StepAsync(string partition, ArchiveStep step, long rows)
    {
        Log.ArchiveStep(logger, partition, step.ToString(), rows);
        if (Fault is not null)
        {
            await Fault(step).ConfigureAwait(false);
        }
    }
}
