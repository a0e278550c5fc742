using System;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using Parquet;
using Parquet.Schema;
using ScaleOps.Data;
using ScaleOps.Partitioning.Archive;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// One archived column: its Parquet field, a buffer of one row group, how a value is read from PostgreSQL, hashed for
/// the row checksum, and written back as COPY text on restore. Typed columns are read in PostgreSQL's binary form;
/// "string" columns as their exact text form.
/// </summary>
internal abstract class ArchiveCodec(ArchiveColumn column, DataField field)
{
    public ArchiveColumn Column { get; } = column;

    public DataField Field { get; } = field;

    /// <summary>The select-list expression for this column.</summary>
    public virtual string Select => SqlIdentifier.Quote(Column.Name);

    public abstract void Allocate(int rows);

    public abstract ValueTask ReadAsync(NpgsqlDataReader reader, int ordinal, int row, CancellationToken cancellationToken);

    public abstract Task WriteAsync(ParquetRowGroupWriter group, int rows, CancellationToken cancellationToken);

    public abstract ValueTask ReadAsync(ParquetRowGroupReader group, DataField fileField, int rows, CancellationToken cancellationToken);

    public abstract void Hash(RowChecksum checksum, int row);

    /// <summary>Appends the value as PostgreSQL text (unescaped), or returns false for NULL.</summary>
    public abstract bool AppendText(StringBuilder text, int row);

    /// <summary>
    /// Set when a value read from PostgreSQL has no exact typed form (a timestamp or date of ±infinity): the export then
    /// starts over with this column as its exact text.
    /// </summary>
    public bool NeedsText { get; protected set; }

    /// <summary>The codec for a column (its <see cref="ArchiveColumn.Parquet"/> encoding; null means string).</summary>
    public static ArchiveCodec For(ArchiveColumn column, string fieldName)
    {
        var parquet = column.Parquet ?? "string";
        ArchiveCodec Struct<T>(DataField field, Action<RowChecksum, T> hash, Func<T, string> text, Func<T, bool>? inexact = null)
            where T : struct => new StructCodec<T>(column, field, hash, text, inexact);

        switch (parquet)
        {
            case "boolean":
                return Struct<bool>(new DataField(fieldName, typeof(bool), isNullable: true), (c, v) => c.AddBytes([v ? (byte)1 : (byte)0]), v => v ? "t" : "f");
            case "int16":
                return Struct<short>(new DataField(fieldName, typeof(short), isNullable: true), (c, v) => c.AddInt64(v), Invariant);
            case "int32":
                return Struct<int>(new DataField(fieldName, typeof(int), isNullable: true), (c, v) => c.AddInt64(v), Invariant);
            case "int64":
                return Struct<long>(new DataField(fieldName, typeof(long), isNullable: true), (c, v) => c.AddInt64(v), Invariant);
            case "float":
                return Struct<float>(new DataField(fieldName, typeof(float), isNullable: true), (c, v) => c.AddInt64(BitConverter.SingleToInt32Bits(v)),
                    v => v.ToString("R", CultureInfo.InvariantCulture));
            case "double":
                return Struct<double>(new DataField(fieldName, typeof(double), isNullable: true), (c, v) => c.AddInt64(BitConverter.DoubleToInt64Bits(v)),
                    v => v.ToString("R", CultureInfo.InvariantCulture));
            case "uuid":
                return Struct<Guid>(new DataField(fieldName, typeof(Guid), isNullable: true), HashGuid, v => v.ToString("D"));
            case "timestamp(us,utc)":
                return Struct<DateTime>(new DateTimeDataField(fieldName, DateTimeFormat.Timestamp, isAdjustedToUTC: true, DateTimeTimeUnit.Micros, isNullable: true),
                    (c, v) => c.AddInt64(v.Ticks), v => v.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "+00", MaybeInfinite);
            case "timestamp(us)":
                return Struct<DateTime>(new DateTimeDataField(fieldName, DateTimeFormat.Timestamp, isAdjustedToUTC: false, DateTimeTimeUnit.Micros, isNullable: true),
                    (c, v) => c.AddInt64(v.Ticks), v => v.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture), MaybeInfinite);
            case "date":
                return Struct<DateTime>(new DateTimeDataField(fieldName, DateTimeFormat.Date, isAdjustedToUTC: false, unit: null, isNullable: true),
                    (c, v) => c.AddInt64(v.Date.Ticks), v => v.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), MaybeInfinite);
            case "binary":
                return new BytesCodec(column, new DataField(fieldName, typeof(byte[]), isNullable: true));
            case "string":
                return new TextCodec(column, new DataField(fieldName, typeof(string), isNullable: true));
            default:
                if (parquet.StartsWith("decimal(", StringComparison.Ordinal) && parquet.EndsWith(')')
                    && parquet[8..^1].Split(',') is [var p, var s]
                    && int.TryParse(p, CultureInfo.InvariantCulture, out var precision)
                    && int.TryParse(s, CultureInfo.InvariantCulture, out var scale))
                {
                    // Rescaled to the column's scale before hashing and printing: Parquet.Net reads a byte-array decimal
                    // (precision above 18) back without its trailing zeros (12.5000 as 12.5, 0.00 as 0), so its hash never
                    // matched the export's and no such archive verified.
                    return Struct<decimal>(new DecimalDataField(fieldName, precision, scale, forceByteArrayEncoding: false, isNullable: true),
                        (c, v) => HashDecimal(c, Rescale(v, scale)), v => Rescale(v, scale).ToString(CultureInfo.InvariantCulture));
                }

                throw new InvalidOperationException($"The archived column {column.Name} has an unknown Parquet encoding '{parquet}'.");
        }
    }

    /// <summary>The Parquet encoding of a PostgreSQL column, from its type oid and typmod.</summary>
    public static string EncodingOf(uint typeOid, int typmod) => typeOid switch
    {
        16 => "boolean",
        17 => "binary",
        20 => "int64",
        21 => "int16",
        23 => "int32",
        700 => "float",
        701 => "double",
        1082 => "date",
        1114 => "timestamp(us)",
        1184 => "timestamp(us,utc)",
        2950 => "uuid",
        // numeric(p,s): a Parquet decimal when .NET's decimal holds every value of it exactly; unconstrained numeric
        // (any scale, NaN, Infinity) and wider ones stay exact PostgreSQL text.
        1700 when typmod >= 4 && ((typmod - 4) >> 16) is var p and >= 1 and <= 28 && ((typmod - 4) & 0x7ff) is var s && s <= p => $"decimal({p},{s})",
        _ => "string",
    };

    /// <summary>
    /// Npgsql reads 'infinity' and '-infinity' as DateTime.MaxValue and MinValue, which a typed column would store as
    /// 9999-12-31 and 0001-01-01. MaxValue is never a real PostgreSQL value (microseconds; a date is midnight); MinValue
    /// may be a real 0001-01-01 00:00, which cannot be told apart: both go to text, which is exact either way.
    /// </summary>
    private static bool MaybeInfinite(DateTime value) => value == DateTime.MinValue || value == DateTime.MaxValue;

    private static string Invariant<T>(T value)
        where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);

    private static void HashGuid(RowChecksum checksum, Guid value)
    {
        Span<byte> bytes = stackalloc byte[16];
        value.TryWriteBytes(bytes, bigEndian: true, out _);
        checksum.AddBytes(bytes);
    }

    /// <summary>
    /// <paramref name="value"/> with exactly <paramref name="scale"/> decimal places (trailing zeros added or removed), or
    /// unchanged when that would change its value or not fit. A numeric(p,s) value read from PostgreSQL already has scale
    /// s (PostgreSQL stores it so), so the export's hash is what it always was and older archives still verify.
    /// </summary>
    internal static decimal Rescale(decimal value, int scale)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        var mantissa = ((UInt128)(uint)bits[2] << 64) | ((UInt128)(uint)bits[1] << 32) | (uint)bits[0];
        var current = value.Scale;
        var max = ((UInt128)1 << 96) - 1;
        while (current < scale && mantissa * 10 <= max)
        {
            mantissa *= 10;
            current++;
        }

        while (current > scale && mantissa % 10 == 0)
        {
            mantissa /= 10;
            current--;
        }

        return current != scale
            ? value
            : new decimal((int)(uint)mantissa, (int)(uint)(mantissa >> 32), (int)(uint)(mantissa >> 64), bits[3] < 0, (byte)scale);
    }

    private static void HashDecimal(RowChecksum checksum, decimal value)
    {
        // The exact value including its scale (1.50 and 1.5 differ, as numeric's text does); callers pass it rescaled to
        // the column's scale, so the export and the read-back agree.
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        Span<byte> bytes = stackalloc byte[16];
        for (var i = 0; i < 4; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes[(i * 4)..], bits[i]);
        }

        checksum.AddBytes(bytes);
    }

    private sealed class StructCodec<T>(ArchiveColumn column, DataField field, Action<RowChecksum, T> hash, Func<T, string> format, Func<T, bool>? inexact)
        : ArchiveCodec(column, field)
        where T : struct
    {
        private T?[] _values = [];

        public override void Allocate(int rows) => _values = new T?[rows];

        public override async ValueTask ReadAsync(NpgsqlDataReader reader, int ordinal, int row, CancellationToken cancellationToken)
        {
            if (await reader.IsDBNullAsync(ordinal, cancellationToken).ConfigureAwait(false))
            {
                _values[row] = null;
                return;
            }

            T value;
            try
            {
                value = await reader.GetFieldValueAsync<T>(ordinal, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (inexact is not null && ex is InvalidCastException or ArgumentOutOfRangeException)
            {
                // No DateTime holds the value: an infinity with Npgsql.DisableDateTimeInfinityConversions on, a timestamp BC
                // or past 9999 (InvalidCastException), a date BC or past 9999 (ArgumentOutOfRangeException from Npgsql's
                // date converter, which failed the whole archive of the partition at every run).
                NeedsText = true;
                return;
            }

            NeedsText |= inexact?.Invoke(value) == true;
            _values[row] = value;
        }

        public override Task WriteAsync(ParquetRowGroupWriter group, int rows, CancellationToken cancellationToken) =>
            group.WriteAsync(Field, new ReadOnlyMemory<T?>(_values, 0, rows), null, null, cancellationToken);

        public override ValueTask ReadAsync(ParquetRowGroupReader group, DataField fileField, int rows, CancellationToken cancellationToken)
        {
            if (_values.Length < rows)
            {
                _values = new T?[rows];
            }

            return group.ReadAsync(fileField, _values.AsMemory(0, rows), null, cancellationToken);
        }

        public override void Hash(RowChecksum checksum, int row)
        {
            if (_values[row] is { } value)
            {
                hash(checksum, value);
            }
            else
            {
                checksum.AddNull();
            }
        }

        public override bool AppendText(StringBuilder text, int row)
        {
            if (_values[row] is not { } value)
            {
                return false;
            }

            text.Append(format(value));
            return true;
        }
    }

    private sealed class TextCodec(ArchiveColumn column, DataField field) : ArchiveCodec(column, field)
    {
        private string?[] _values = [];

        public override string Select => SqlIdentifier.Quote(Column.Name) + "::text";

        public override void Allocate(int rows) => _values = new string?[rows];

        public override async ValueTask ReadAsync(NpgsqlDataReader reader, int ordinal, int row, CancellationToken cancellationToken) =>
            _values[row] = await reader.IsDBNullAsync(ordinal, cancellationToken).ConfigureAwait(false) ? null : reader.GetString(ordinal);

        public override Task WriteAsync(ParquetRowGroupWriter group, int rows, CancellationToken cancellationToken) =>
            group.WriteAsync(Field, (System.Collections.Generic.IReadOnlyCollection<string>)new ArraySegment<string?>(_values, 0, rows)!, null);

        public override ValueTask ReadAsync(ParquetRowGroupReader group, DataField fileField, int rows, CancellationToken cancellationToken)
        {
            if (_values.Length < rows)
            {
                _values = new string?[rows];
            }

            return group.ReadAsync(fileField, _values.AsMemory(0, rows)!, null, cancellationToken);
        }

        public override void Hash(RowChecksum checksum, int row) => checksum.AddString(_values[row]);

        public override bool AppendText(StringBuilder text, int row)
        {
            if (_values[row] is not { } value)
            {
                return false;
            }

            text.Append(value);
            return true;
        }
    }

    private sealed class BytesCodec(ArchiveColumn column, DataField field) : ArchiveCodec(column, field)
    {
        private byte[]?[] _values = [];

        public override void Allocate(int rows) => _values = new byte[]?[rows];

        public override async ValueTask ReadAsync(NpgsqlDataReader reader, int ordinal, int row, CancellationToken cancellationToken) =>
            _values[row] = await reader.IsDBNullAsync(ordinal, cancellationToken).ConfigureAwait(false)
                ? null
                : await reader.GetFieldValueAsync<byte[]>(ordinal, cancellationToken).ConfigureAwait(false);

        public override Task WriteAsync(ParquetRowGroupWriter group, int rows, CancellationToken cancellationToken) =>
            group.WriteAsync(Field, (System.Collections.Generic.IReadOnlyCollection<byte[]>)new ArraySegment<byte[]?>(_values, 0, rows)!, null);

        public override ValueTask ReadAsync(ParquetRowGroupReader group, DataField fileField, int rows, CancellationToken cancellationToken)
        {
            if (_values.Length < rows)
            {
                _values = new byte[]?[rows];
            }

            return group.ReadAsync(fileField, _values.AsMemory(0, rows)!, null, cancellationToken);
        }

        public override void Hash(RowChecksum checksum, int row)
        {
            if (_values[row] is { } value)
            {
                checksum.AddBytes(value);
            }
            else
            {
                checksum.AddNull();
            }
        }

        public override bool AppendText(StringBuilder text, int row)
        {
            if (_values[row] is not { } value)
            {
                return false;
            }

            text.Append("\\x").Append(Convert.ToHexStringLower(value));
            return true;
        }
    }
}
