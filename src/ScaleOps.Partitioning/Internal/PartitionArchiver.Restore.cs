using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Archive;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class PartitionArchiver
{
    public async Task<long> RestoreAsync(string schema, string table, string partition, bool allowOtherDatabase = false,
        CancellationToken cancellationToken = default)
    {
        var managed = Find(schema, table);
        var manifest = await blobs.ReadManifestAsync(schema, table, partition, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"{partition} of {managed.Qualified} has no archive manifest.");
        var database = await DatabaseIdAsync(cancellationToken).ConfigureAwait(false);
        var other = OtherDatabase(manifest, database);
        var keptCopy = false;
        if (other && !allowOtherDatabase && await OwnKeptCopyAsync(schema, table, partition, database, cancellationToken).ConfigureAwait(false) is { } own)
        {
            // This database's archive, moved to a dated name when another database archived a partition of this name.
            Log.RestoringKeptCopy(logger, partition, own.Name, manifest.DatabaseId!.Value);
            (manifest, other, keptCopy) = (own.Manifest, false, true);
        }

        if (other && !allowOtherDatabase)
        {
            // Blobs are named without the database: in a container two databases archive into, this is the other's rows.
            throw new InvalidOperationException(
                $"The archive of {partition} of {managed.Qualified} ({ArchiveBlobs.ManifestName(schema, table, partition)}, {manifest.Rows} rows "
                + $"archived at {manifest.ArchivedAt:O}) was written by another database: its archive identity is {manifest.DatabaseId}, this "
                + $"database's is {database}. Nothing was restored. Two databases archive into one container: give each its own "
                + $"{PartitioningDefaults.Section}:ArchiveContainer. No archive of this database's is kept next to it under a dated name "
                + $"({partition}.{{ArchivedAt}}.manifest.json), where one another database's replaced would be. To restore the other database's "
                + "rows here on purpose (a new database after a logical migration), pass allowOtherDatabase: true.");
        }

        if ((await store.PartitionListAsync(managed.Qualified, cancellationToken).ConfigureAwait(false))
            .Any(p => p.Name == partition && managed.InOwnSchema(p)))
        {
            return await ResumeRestoreAsync(managed, partition, manifest, recordRestored: !other && !keptCopy, cancellationToken).ConfigureAwait(false);
        }

        var resolvedType = (await store.ParentReadAsync(managed.Qualified, cancellationToken).ConfigureAwait(false))?.KeyType ?? "timestamp with time zone";
        var lower = LowerBoundSql(manifest, managed, resolvedType);
        if (await TableExistsAsync(managed.QualifyPartition(partition), cancellationToken).ConfigureAwait(false))
        {
            // RetentionMode.Detach keeps the detached table under the partition's name: the restore's CREATE TABLE failed
            // with PostgreSQL's 42P07. The table may hold rows changed since the archive: it is the caller's to attach or drop.
            var detached = managed.QualifyPartition(partition);
            throw new InvalidOperationException(
                $"{detached} exists but is not a partition of {managed.Qualified} (RetentionMode.Detach keeps a detached partition under its name); "
                + $"nothing was restored. To use it again, attach it: ALTER TABLE {managed.Qualified} ATTACH PARTITION {detached} FOR VALUES FROM ({lower}) "
                + $"TO ('{PartitionPeriods.Literal(manifest.To, resolvedType)}'); to restore the archive instead, drop or rename it first.");
        }

        var file = Path.Combine(Path.GetTempPath(), $"scaleops-restore-{Guid.NewGuid():N}.parquet");
        try
        {
            if (!await blobs.DownloadAsync(manifest.Blob, file, cancellationToken).ConfigureAwait(false))
            {
                throw new FileNotFoundException($"The archive blob {manifest.Blob} is missing.");
            }

            var qualified = managed.QualifyPartition(partition);
            // A GENERATED ... STORED column is archived (and checksummed) but not copied back: COPY refuses a value for
            // it, and the restored partition computes it again from the other columns.
            var writable = (await store.ColumnListAsync(managed.Qualified, cancellationToken, writableOnly: true).ConfigureAwait(false))
                .ToHashSet(StringComparer.Ordinal);
            var generated = (await store.ColumnListAsync(managed.Qualified, cancellationToken).ConfigureAwait(false))
                .Where(c => !writable.Contains(c)).ToHashSet(StringComparer.Ordinal);
            var copied = manifest.Columns.Select(c => !generated.Contains(c.Name)).ToArray();
            var columns = string.Join(", ", manifest.Columns.Where((_, i) => copied[i]).Select(c => SqlIdentifier.Quote(c.Name)));
            // One transaction: a new table, the rows, the count and checksum check, then ATTACH with the original bounds.
            var rows = await ddl.RunAsync($"restore {partition}", async (connection, transaction) =>
            {
                await using (var create = new NpgsqlCommand(
                    PartitionMaintenance.CreateTableSql(managed, partition) + PartitionMaintenance.IndexSql(managed, partition)
                    + "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO'; SET LOCAL IntervalStyle = 'postgres'", connection, transaction))
                {
                    await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                ParquetArchiveFile.Result read;
                await using (var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous))
                await using (var writer = await connection.BeginTextImportAsync($"COPY {qualified} ({columns}) FROM STDIN", cancellationToken).ConfigureAwait(false))
                {
                    var line = new StringBuilder();
                    var value = new StringBuilder();
                    read = await ParquetArchiveFile.ReadAsync(input, manifest.Columns, async (codecs, row) =>
                    {
                        line.Clear();
                        var first = true;
                        for (var c = 0; c < codecs.Count; c++)
                        {
                            if (!copied[c])
                            {
                                continue;
                            }

                            if (!first)
                            {
                                line.Append('\t');
                            }

                            first = false;

                            value.Clear();
                            AppendCopyText(line, codecs[c].AppendText(value, row) ? value : null);
                        }

                        line.Append('\n');
                        await writer.WriteAsync(line, cancellationToken).ConfigureAwait(false);
                    }, cancellationToken).ConfigureAwait(false);
                }

                if (read.Rows != manifest.Rows || read.RowChecksum != manifest.RowChecksum)
                {
                    throw new InvalidDataException($"The archive of {partition} does not match its manifest; nothing restored.");
                }

                // After the rows are in: COPY FROM is refused on a table whose row-level security applies to this role.
                await PartitionAccess.CopyAsync(connection, transaction, managed.Qualified, qualified, cancellationToken).ConfigureAwait(false);
                await using var attach = new NpgsqlCommand(
                    $"ALTER TABLE {managed.Qualified} ATTACH PARTITION {qualified} FOR VALUES FROM ({lower}) "
                    + $"TO ('{PartitionPeriods.Literal(manifest.To, resolvedType)}')", connection, transaction);
                await attach.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return read.Rows;
            }, cancellationToken).ConfigureAwait(false);
            // The archive now describes the restored table: a change to it (an erasure) is archived over it, as for the
            // original partition, instead of keeping the pre-change archive as one of another table. Another database's
            // archive stays that database's: archiving the restored partition here keeps it under a dated name. A kept copy
            // stays as it is (the partition's name holds the other database's archive, which a rewrite there would replace).
            if (!other && !keptCopy)
            {
                await RecordRestoredAsync(managed, partition, manifest, rows, cancellationToken).ConfigureAwait(false);
            }

            Log.ArchiveRestored(logger, partition, rows);
            return rows;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// A restore run again on a partition that is already attached: one whose transaction committed but that failed after
    /// (Blob storage unreachable for the manifest update, a connection lost while the commit's reply was on its way). When
    /// the partition holds exactly the archived rows (count and row checksum), only what was left is done: the manifest is
    /// made to name the restored table. It used to fail with PostgreSQL's 42P07 (relation already exists) every time, so
    /// the manifest kept naming the dropped table and a later archive of the restored partition kept the old archive beside
    /// it under a dated name (with rows erased since) instead of replacing it. Any other partition of that name is refused.
    /// </summary>
    private async Task<long> ResumeRestoreAsync(ManagedTable managed, string partition, ArchiveManifest manifest, bool recordRestored,
        CancellationToken cancellationToken)
    {
        var qualified = managed.QualifyPartition(partition);
        if (!await HoldsArchivedRowsAsync(qualified, manifest, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException(
                $"{partition} is already a partition of {managed.Qualified}, and its rows are not the {manifest.Rows} rows of its archive "
                + $"({ArchiveBlobs.ManifestName(manifest.Schema, manifest.Table, partition)}, archived at {manifest.ArchivedAt:O}); nothing was restored. "
                + "Archive or remove that partition first to restore the archive.");
        }

        if (recordRestored && manifest.RelationId != await RelationIdAsync(qualified, cancellationToken).ConfigureAwait(false))
        {
            await RecordRestoredAsync(managed, partition, manifest, manifest.Rows, cancellationToken).ConfigureAwait(false);
        }

        Log.ArchiveRestored(logger, partition, manifest.Rows);
        return manifest.Rows;
    }

    /// <summary>
    /// Makes the manifest name the restored table (its <c>RelationId</c>), after the restore committed. A failure here
    /// (Blob storage unreachable) says that the rows are back and that running the restore again finishes it.
    /// </summary>
    private async Task RecordRestoredAsync(ManagedTable managed, string partition, ArchiveManifest manifest, long rows, CancellationToken cancellationToken)
    {
        var relationId = await RelationIdAsync(managed.QualifyPartition(partition), cancellationToken).ConfigureAwait(false);
        try
        {
            await blobs.WriteManifestAsync(With(manifest, manifest.Blob, relationId), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new InvalidOperationException(
                $"The {rows} rows of {partition} were restored into {managed.Qualified}, but its archive manifest "
                + $"({ArchiveBlobs.ManifestName(manifest.Schema, manifest.Table, partition)}) could not be updated to name the restored table: "
                + $"{ex.Message} Run RestoreAsync again once Blob storage is reachable; it finds the rows in place and only updates the manifest.", ex);
        }
    }

    /// <summary>
    /// The lower bound to attach a restored partition with, as it was: <c>MINVALUE</c>, <c>'-infinity'</c> or
    /// <see cref="ArchiveManifest.From"/>. Both were recorded as 0001-01-01 before <see cref="ArchiveManifest.LowerBound"/>,
    /// and the restore attached the partition <c>FROM ('0001-01-01')</c>: another partition than the one archived, and
    /// one its rows of <c>-infinity</c> or BC failed (23514). Such a manifest is refused until its bound is said.
    /// </summary>
    private static string LowerBoundSql(ArchiveManifest manifest, ManagedTable managed, string keyType)
    {
        var name = ArchiveBlobs.ManifestName(manifest.Schema, manifest.Table, manifest.Partition);
        switch (manifest.LowerBound)
        {
            case { } b when string.Equals(b, "MINVALUE", StringComparison.OrdinalIgnoreCase):
                return "MINVALUE";
            case { } b when string.Equals(b, "-infinity", StringComparison.OrdinalIgnoreCase):
                return "'-infinity'";
            case null when manifest.From is null || manifest.From == DateTime.MinValue:
                throw new InvalidOperationException(
                    $"The archive manifest {name} of {manifest.Partition} of {managed.Qualified} gives its lower bound as 0001-01-01, as manifests "
                    + "written before LowerBound did for a partition bounded FROM (MINVALUE) or FROM ('-infinity'); restored so, it would not be the "
                    + "partition it was (and its rows of -infinity or BC would fail the ATTACH). Nothing was restored. Set \"LowerBound\" in that "
                    + "manifest to \"MINVALUE\" or \"-infinity\" (what the partition was bounded by; \"0001-01-01 00:00:00+00\" if it really began "
                    + "there) and restore again.");
            case null:
                break;
            case { } b when DateTime.TryParseExact(b, ["yyyy-MM-dd HH:mm:ss'+00'", "yyyy-MM-dd HH:mm:ss.FFFFFF'+00'"], System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var at) && at == manifest.From:
                break;
            default:
                throw new InvalidOperationException(
                    $"The archive manifest {name} of {manifest.Partition} of {managed.Qualified} has LowerBound \"{manifest.LowerBound}\", which is "
                    + $"neither MINVALUE, -infinity nor its From ({(manifest.From is { } f ? PartitionPeriods.Literal(f, "timestamp with time zone") : "none")}); nothing was restored.");
        }

        return "'" + PartitionPeriods.Literal(manifest.From!.Value, keyType) + "'";
    }

    /// <summary>Escapes one value for COPY's text format (<c>\N</c> is NULL).</summary>
    private static void AppendCopyText(StringBuilder line, StringBuilder? value)
    {
        if (value is null)
        {
            line.Append("\\N");
            return;
        }

        foreach (var chunk in value.GetChunks())
        {
            foreach (var ch in chunk.Span)
            {
                _ = ch switch
                {
                    '\\' => line.Append("\\\\"),
                    '\t' => line.Append("\\t"),
                    '\n' => line.Append("\\n"),
                    '\r' => line.Append("\\r"),
                    _ => line.Append(ch),
                };
            }
        }
    }

    /// <summary>The latest of this database's archives of the partition kept under a dated name, if any.</summary>
    private async Task<(ArchiveManifest Manifest, string Name)?> OwnKeptCopyAsync(string schema, string table, string partition, Guid database,
        CancellationToken cancellationToken)
    {
        (ArchiveManifest Manifest, string Name)? latest = null;
        foreach (var name in await blobs.EarlierManifestNamesAsync(schema, table, partition, cancellationToken).ConfigureAwait(false))
        {
            if (await blobs.ReadManifestAsync(name, cancellationToken).ConfigureAwait(false) is { } kept && kept.DatabaseId == database
                && kept.Partition == partition && (latest is null || kept.ArchivedAt > latest.Value.Manifest.ArchivedAt))
            {
                latest = (kept, name);
            }
        }

        return latest;
    }

    private async Task<bool> TableExistsAsync(string qualified, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT to_regclass($1) IS NOT NULL");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
