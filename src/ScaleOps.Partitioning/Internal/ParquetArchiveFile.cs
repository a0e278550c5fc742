using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using Parquet;
using Parquet.Schema;
using ScaleOps.Partitioning.Archive;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Streams a partition into a Parquet file and back with typed columns (see <see cref="ArchiveCodec"/>): integers,
/// floats, booleans, uuids, timestamps, dates, bytea and numeric(p,s) as Parquet types, everything else as its exact
/// PostgreSQL text. At most one row group is in memory, on export and on read.
/// </summary>
internal static partial class ParquetArchiveFile
{
    public sealed record Result(long Rows, string RowChecksum);

    public static async Task<(List<ArchiveColumn> Columns, Result Result)> ExportAsync(
        NpgsqlDataSource dataSource, string qualifiedPartition, Stream output, int rowGroupSize, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // One snapshot for the whole export; TimeZone UTC and ISO dates so text columns read the same wherever restored.
        // row_security = off: if row-level security applies to this role, the export fails instead of archiving only the
        // rows the role may see (the partition would then be verified against that subset and dropped).
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        await SetUpReadAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        var columns = await DescribeAsync(connection, transaction, qualifiedPartition, cancellationToken).ConfigureAwait(false);

        // A timestamp or date column holding ±infinity has no exact typed form: the export starts over (same snapshot)
        // with that column as its exact PostgreSQL text, once per such column at most.
        while (true)
        {
            var (result, inexact) = await WriteFileAsync(connection, transaction, qualifiedPartition, columns, output, rowGroupSize, cancellationToken)
                .ConfigureAwait(false);
            if (inexact is null)
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return (columns, result!);
            }

            columns[inexact.Value] = columns[inexact.Value] with { Parquet = "string" };
            output.SetLength(0);
            output.Position = 0;
        }
    }

    /// <summary>
    /// The row count and checksum of the partition as it is now, read in <paramref name="transaction"/> exactly as the
    /// export read it (same codecs, same settings, same scan order), or null when its columns are no longer those of
    /// <paramref name="columns"/> or a value has no exact form in its typed column: then it cannot match.
    /// </summary>
    public static async Task<Result?> ChecksumAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string qualifiedPartition,
        IReadOnlyList<ArchiveColumn> columns, CancellationToken cancellationToken)
    {
        await SetUpReadAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        var now = await DescribeAsync(connection, transaction, qualifiedPartition, cancellationToken).ConfigureAwait(false);
        if (!now.Select(c => (c.Name, c.Type)).SequenceEqual(columns.Select(c => (c.Name, c.Type))))
        {
            return null;
        }

        var codecs = Codecs(columns);
        foreach (var codec in codecs)
        {
            codec.Allocate(1);
        }

        using var checksum = new RowChecksum();
        await using var command = new NpgsqlCommand($"SELECT {string.Join(", ", codecs.Select(c => c.Select))} FROM {qualifiedPartition}", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            for (var c = 0; c < codecs.Count; c++)
            {
                await codecs[c].ReadAsync(reader, c, 0, cancellationToken).ConfigureAwait(false);
                if (codecs[c].NeedsText)
                {
                    return null;
                }

                codecs[c].Hash(checksum, 0);
            }

            checksum.EndRow();
        }

        return new Result(checksum.Rows, checksum.Finish());
    }

    /// <summary>
    /// UTC, ISO dates and the default IntervalStyle, so text columns read the same wherever restored (an interval
    /// exported under <c>sql_standard</c>, <c>-1 2:00:00</c> for -1 days -02:00:00, came back as -1 days +02:00:00 under
    /// the default style, and the archive had verified); no parallel workers and no synchronized
    /// scan, so the partition is read in its physical order every time and a later checksum of the same rows is equal;
    /// <c>row_security = off</c>, so a read that row-level security would filter fails instead of archiving (and then
    /// dropping) only the rows this role may see.
    /// </summary>
    private static async Task SetUpReadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var settings = new NpgsqlCommand(
            "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 3; "
            + "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL synchronize_seqscans = off; SET LOCAL row_security = off", connection, transaction);
        await settings.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<ArchiveColumn>> DescribeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string qualifiedPartition,
        CancellationToken cancellationToken)
    {
        var columns = new List<ArchiveColumn>();
        await using var describe = new NpgsqlCommand(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.atttypid, a.atttypmod FROM pg_attribute a WHERE a.attrelid = to_regclass($1) "
            + "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", connection, transaction);
        describe.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedPartition });
        await using var r = await describe.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            columns.Add(new ArchiveColumn(r.GetString(0), r.GetString(1), ArchiveCodec.EncodingOf(r.GetFieldValue<uint>(2), r.GetInt32(3))));
        }

        return columns;
    }

    /// <summary>Writes the file; returns the row count and checksum, or the index of a column that must be text (the file is then incomplete).</summary>
    private static async Task<(Result? Result, int? Inexact)> WriteFileAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string qualifiedPartition,
        List<ArchiveColumn> columns, Stream output, int rowGroupSize, CancellationToken cancellationToken)
    {
        var codecs = Codecs(columns);
        foreach (var codec in codecs)
        {
            codec.Allocate(rowGroupSize);
        }

        using var checksum = new RowChecksum();
        var schema = new ParquetSchema(codecs.Select(c => (Field)c.Field).ToArray());
        await using (var writer = await ParquetWriter.CreateAsync(schema, output, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            writer.CustomMetadata = new Dictionary<string, string>
            {
                ["scaleops.columns"] = System.Text.Json.JsonSerializer.Serialize(columns),
            };
            await using var command = new NpgsqlCommand($"SELECT {string.Join(", ", codecs.Select(c => c.Select))} FROM {qualifiedPartition}", connection, transaction);
            await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
            var n = 0;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                for (var c = 0; c < codecs.Count; c++)
                {
                    await codecs[c].ReadAsync(reader, c, n, cancellationToken).ConfigureAwait(false);
                    if (codecs[c].NeedsText)
                    {
                        return (null, c);
                    }

                    codecs[c].Hash(checksum, n);
                }

                checksum.EndRow();
                if (++n == rowGroupSize)
                {
                    await WriteGroupAsync(writer, codecs, n, cancellationToken).ConfigureAwait(false);
                    n = 0;
                }
            }

            if (n > 0 || checksum.Rows == 0)
            {
                await WriteGroupAsync(writer, codecs, n, cancellationToken).ConfigureAwait(false);
            }
        }

        return (new Result(checksum.Rows, checksum.Finish()), null);
    }

    /// <summary>
    /// Reads a file row group by row group, checksums every row and hands each one to <paramref name="onRow"/> (the
    /// codecs hold the current row group; the int is the row's index in it).
    /// </summary>
    public static async Task<Result> ReadAsync(Stream input, IReadOnlyList<ArchiveColumn> columns, Func<IReadOnlyList<ArchiveCodec>, int, Task>? onRow,
        CancellationToken cancellationToken)
    {
        var codecs = Codecs(columns);
        using var checksum = new RowChecksum();
        await using var reader = await ParquetReader.CreateAsync(input, cancellationToken: cancellationToken).ConfigureAwait(false);
        var fileFields = reader.Schema.GetDataFields();
        if (fileFields.Length != columns.Count)
        {
            throw new InvalidDataException($"The archive has {fileFields.Length} columns; its manifest says {columns.Count}.");
        }

        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var count = checked((int)group.RowCount);
            for (var c = 0; c < codecs.Count; c++)
            {
                await codecs[c].ReadAsync(group, fileFields[c], count, cancellationToken).ConfigureAwait(false);
            }

            for (var i = 0; i < count; i++)
            {
                foreach (var codec in codecs)
                {
                    codec.Hash(checksum, i);
                }

                checksum.EndRow();
                if (onRow is not null)
                {
                    await onRow(codecs, i).ConfigureAwait(false);
                }
            }
        }

        return new Result(checksum.Rows, checksum.Finish());
    }

    /// <summary>
    /// Parquet field names: the column's own name when it is a plain identifier, else <c>c{position}</c>, with
    /// underscores appended until no other field has that name. A plain column literally named <c>c2</c> next to a
    /// non-plain one at position 2 once gave two fields the same name, and every archive of that table failed. Files are
    /// read by position, so archives written under the older naming still read.
    /// </summary>
    private static List<ArchiveCodec> Codecs(IReadOnlyList<ArchiveColumn> columns)
    {
        var used = columns.Where(c => PlainName().IsMatch(c.Name)).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var codecs = new List<ArchiveCodec>(columns.Count);
        for (var i = 0; i < columns.Count; i++)
        {
            var name = columns[i].Name;
            if (!PlainName().IsMatch(name))
            {
                name = "c" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                while (!used.Add(name))
                {
                    name += "_";
                }
            }

            codecs.Add(ArchiveCodec.For(columns[i], name));
        }

        return codecs;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial System.Text.RegularExpressions.Regex PlainName();

    private static async Task WriteGroupAsync(ParquetWriter writer, List<ArchiveCodec> codecs, int rows, CancellationToken cancellationToken)
    {
        using var group = writer.CreateRowGroup();
        foreach (var codec in codecs)
        {
            await codec.WriteAsync(group, rows, cancellationToken).ConfigureAwait(false);
        }
    }
}
