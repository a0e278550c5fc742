using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
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
    /// Before a partition's archive is written over <paramref name="earlier"/>, an archive of another table of the same
    /// name (a partition removed since, whose rows that archive is the only copy of; or a manifest that does not say
    /// which table it came from): copies its file to a dated name, verifies the copy, then writes its manifest there.
    /// Idempotent: a copy a previous run kept and that verifies is left as it is. When neither the copy nor the
    /// original verifies, nothing is overwritten: the archive is refused.
    /// </summary>
    private async Task KeepEarlierAsync(ArchiveManifest earlier, string qualified, CancellationToken cancellationToken)
    {
        var (data, manifestName) = ArchiveBlobs.EarlierNames(earlier);
        if (await blobs.ReadManifestAsync(manifestName, cancellationToken).ConfigureAwait(false) is { } kept
            && await VerifyAsync(kept, cancellationToken).ConfigureAwait(false))
        {
            return;
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
                    Log.ArchiveKept(logger, earlier.Partition, earlier.Rows, earlier.ArchivedAt, manifestName);
                    return;
                }
            }
        }
        finally
        {
            File.Delete(file);
        }

        throw new InvalidDataException(
            $"{qualified} is another table than the one archived as {earlier.Partition} at {earlier.ArchivedAt:O} ({earlier.Rows} rows), and that "
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
    };
}
