using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Archive;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class PartitionArchiver
{
    /// <summary>The table's <c>pg_class.oid</c>: which table, not which name, an archive was exported from.</summary>
    private async Task<long> RelationIdAsync(string qualified, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT to_regclass($1)::oid::bigint");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// This database's archive identity (<c>archive_identity</c> in the ScaleOps schema, made once by migration
    /// <c>partitioning/2</c>), recorded in each manifest as <see cref="ArchiveManifest.DatabaseId"/>.
    /// </summary>
    private async Task<Guid> DatabaseIdAsync(CancellationToken cancellationToken)
    {
        var table = $"{SqlIdentifier.Quote(scaleOpsOptions.Value.Schema)}.archive_identity";
        await using var command = dataSource.CreateCommand($"SELECT id FROM {table}");
        try
        {
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as Guid?
                ?? throw new InvalidOperationException(
                    $"{table} has no row: this database has no archive identity, so its archives could not be told from another "
                    + "database's. Nothing was archived or restored. Restore that row from a backup (or, for a database that never "
                    + $"archived, INSERT INTO {table} DEFAULT VALUES).");
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            throw new InvalidOperationException(
                $"{table} does not exist: the migration partitioning/2 that makes this database's archive identity has not been applied "
                + "(ScaleOps:ApplyMigrationsOnStart is false, or the host was not started). Nothing was archived or restored. Apply the migrations "
                + "(IScaleOpsMigrator.MigrateAsync) first.", ex);
        }
    }

    /// <summary>Whether <paramref name="manifest"/> was written by another database (one written before DatabaseId was recorded is not).</summary>
    private static bool OtherDatabase(ArchiveManifest manifest, Guid database) => manifest.DatabaseId is { } id && id != database;

    /// <summary>
    /// Before a partition's archive is written over <paramref name="earlier"/>, an archive of another table of the same
    /// name (a partition removed since, whose rows that archive is the only copy of; or a manifest that does not say
    /// which table it came from; or another database's, archiving into the same container): copies its file to a dated
    /// name, verifies the copy, then writes its manifest there. Idempotent: a copy of that archive a previous run kept and
    /// that verifies is left as it is. When neither the copy nor the original verifies, or the dated name holds another
    /// archive, nothing is overwritten: the archive is refused.
    /// </summary>
    private async Task KeepEarlierAsync(ArchiveManifest earlier, string qualified, Guid database, CancellationToken cancellationToken)
    {
        var (data, manifestName) = ArchiveBlobs.EarlierNames(earlier);
        if (await blobs.ReadManifestAsync(manifestName, cancellationToken).ConfigureAwait(false) is { } kept)
        {
            if (kept.FileSha256 == earlier.FileSha256 && kept.RowChecksum == earlier.RowChecksum && kept.DatabaseId == earlier.DatabaseId
                && await VerifyAsync(kept, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            if (kept.FileSha256 != earlier.FileSha256 && await VerifyAsync(kept, cancellationToken).ConfigureAwait(false))
            {
                // Two archives of this name at the same instant (two databases' clocks): writing over either loses it.
                throw new InvalidOperationException(
                    $"{manifestName} already holds another archive of {earlier.Partition} ({kept.Rows} rows), so the archive at the partition's "
                    + $"name ({earlier.Rows} rows) cannot be kept there; {qualified} is not archived over it and is kept. Give each database "
                    + $"its own {PartitioningDefaults.Section}:ArchiveContainer.");
            }
        }

        var copy = With(earlier, data, earlier.RelationId);
        var file = Path.Combine(Path.GetTempPath(), $"scaleops-keep-{Guid.NewGuid():N}.parquet");
        try
        {
            if (await VerifyAsync(earlier, cancellationToken).ConfigureAwait(false)
                && await blobs.DownloadAsync(earlier.Blob, file, cancellationToken).ConfigureAwait(false))
            {
                await using (var input = File.OpenRead(file))
                {
                    await blobs.UploadAsync(data, input, cancellationToken).ConfigureAwait(false);
                }

                if (await VerifyAsync(copy, cancellationToken).ConfigureAwait(false))
                {
                    await blobs.WriteManifestAsync(copy, manifestName, cancellationToken).ConfigureAwait(false);
                    if (OtherDatabase(earlier, database))
                    {
                        Log.ArchiveKeptOtherDatabase(logger, earlier.Partition, earlier.DatabaseId!.Value, database, earlier.Rows, earlier.ArchivedAt, manifestName);
                    }
                    else
                    {
                        Log.ArchiveKept(logger, earlier.Partition, earlier.Rows, earlier.ArchivedAt, manifestName);
                    }

                    return;
                }
            }
        }
        finally
        {
            File.Delete(file);
        }

        throw new InvalidDataException(
            $"{qualified} is another table than the one archived as {earlier.Partition} at {earlier.ArchivedAt:O} ({earlier.Rows} rows"
            + (OtherDatabase(earlier, database) ? $", by another database: archive identity {earlier.DatabaseId}, this one's is {database}" : "") + "), and that "
            + $"archive ({earlier.Blob}) no longer verifies, so it could not be kept under {data}; {qualified} is not archived over it and is kept.");
    }

    /// <summary>A copy of <paramref name="manifest"/> naming another blob and table.</summary>
    private static ArchiveManifest With(ArchiveManifest manifest, string blob, long? relationId) => new()
    {
        Schema = manifest.Schema,
        Table = manifest.Table,
        Partition = manifest.Partition,
        From = manifest.From,
        LowerBound = manifest.LowerBound,
        To = manifest.To,
        Rows = manifest.Rows,
        RowChecksum = manifest.RowChecksum,
        FileSha256 = manifest.FileSha256,
        Blob = blob,
        Columns = manifest.Columns,
        ArchivedAt = manifest.ArchivedAt,
        RelationId = relationId,
        DatabaseId = manifest.DatabaseId,
    };
}
