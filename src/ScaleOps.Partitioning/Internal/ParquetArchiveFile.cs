using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using Parquet;
using Parquet.Schema;
using ScaleOps.Data;
using ScaleOps.Partitioning.Archive;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Streams a partition into a Parquet file and back. Every value is kept in its exact PostgreSQL text form (a string
/// column per table column, named c0, c1...), so any type round-trips without loss. At most one row group is in memory.
/// </summary>
internal static class ParquetArchiveFile
{
    public sealed record Result(long Rows, string RowChecksum);

    public static async Task<(List<ArchiveColumn> Columns, Result Result)> ExportAsync(
        NpgsqlDataSource dataSource, string qualifiedPartition, Stream output, int rowGroupSize, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // One snapshot for the whole export; TimeZone UTC so timestamptz text is the same wherever it is restored.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        await using (var utc = new NpgsqlCommand("SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO'; SET LOCAL extra_float_digits = 3", connection, transaction))
        {
            await utc.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var columns = new List<ArchiveColumn>();
        await using (var describe = new NpgsqlCommand(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = to_regclass($1) "
            + "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", connection, transaction))
        {
            describe.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedPartition });
            await using var r = await describe.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                columns.Add(new ArchiveColumn(r.GetString(0), r.GetString(1)));
            }
        }

        var fields = Fields(columns.Count);
        var select = string.Join(", ", columns.Select(c => SqlIdentifier.Quote(c.Name) + "::text"));
        using var checksum = new RowChecksum();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), output, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            writer.CustomMetadata = new Dictionary<string, string>
            {
                ["scaleops.columns"] = System.Text.Json.JsonSerializer.Serialize(columns),
            };
            await using var command = new NpgsqlCommand($"SELECT {select} FROM {qualifiedPartition}", connection, transaction);
            await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
            var buffer = NewBuffer(columns.Count, rowGroupSize);
            var n = 0;
            var row = new string?[columns.Count];
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                for (var c = 0; c < columns.Count; c++)
                {
                    row[c] = await reader.IsDBNullAsync(c, cancellationToken).ConfigureAwait(false) ? null : reader.GetString(c);
                    buffer[c][n] = row[c];
                }

                checksum.AddRow(row);
                if (++n == rowGroupSize)
                {
                    await WriteGroupAsync(writer, fields, buffer, n).ConfigureAwait(false);
                    n = 0;
                }
            }

            if (n > 0 || checksum.Rows == 0)
            {
                await WriteGroupAsync(writer, fields, buffer, n).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (columns, new Result(checksum.Rows, checksum.Finish()));
    }

    /// <summary>Reads a file row group by row group, handing each row to <paramref name="onRow"/>, and checksums it.</summary>
    public static async Task<Result> ReadAsync(Stream input, int columnCount, Func<string?[], Task>? onRow, CancellationToken cancellationToken)
    {
        var fields = Fields(columnCount);
        using var checksum = new RowChecksum();
        await using var reader = await ParquetReader.CreateAsync(input, cancellationToken: cancellationToken).ConfigureAwait(false);
        var fileFields = reader.Schema.GetDataFields();
        if (fileFields.Length != columnCount)
        {
            throw new InvalidDataException($"The archive has {fileFields.Length} columns; its manifest says {columnCount}.");
        }

        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var count = checked((int)group.RowCount);
            var data = new string?[columnCount][];
            for (var c = 0; c < columnCount; c++)
            {
                data[c] = new string?[count];
                await group.ReadAsync(fileFields[c], data[c].AsMemory()!, null, cancellationToken).ConfigureAwait(false);
            }

            var row = new string?[columnCount];
            for (var i = 0; i < count; i++)
            {
                for (var c = 0; c < columnCount; c++)
                {
                    row[c] = data[c][i];
                }

                checksum.AddRow(row);
                if (onRow is not null)
                {
                    await onRow(row).ConfigureAwait(false);
                }
            }
        }

        return new Result(checksum.Rows, checksum.Finish());
    }

    private static DataField[] Fields(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new DataField("c" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), typeof(string), isNullable: true))];

    private static string?[][] NewBuffer(int columns, int rows) => [.. Enumerable.Range(0, columns).Select(_ => new string?[rows])];

    private static async Task WriteGroupAsync(ParquetWriter writer, DataField[] fields, string?[][] buffer, int rows)
    {
        using var group = writer.CreateRowGroup();
        for (var c = 0; c < fields.Length; c++)
        {
            await group.WriteAsync(fields[c], (IReadOnlyCollection<string>)new ArraySegment<string?>(buffer[c], 0, rows)!, null).ConfigureAwait(false);
        }
    }
}
