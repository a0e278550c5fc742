using System;
using System.Globalization;
using System.Text;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>Period arithmetic and pg_partman 4.7-compatible partition names, all in UTC.</summary>
internal static partial class PartitionPeriods
{
    /// <summary>The start of the period that contains <paramref name="instant"/> (UTC).</summary>
    public static DateTime Floor(PartitionInterval interval, DateTime instant)
    {
        var d = DateTime.SpecifyKind(instant, DateTimeKind.Utc);
        return interval switch
        {
            PartitionInterval.Day => d.Date,
            PartitionInterval.Week => d.Date.AddDays(-(((int)d.DayOfWeek + 6) % 7)),
            PartitionInterval.Month => new DateTime(d.Year, d.Month, 1, 0, 0, 0, DateTimeKind.Utc),
            PartitionInterval.Quarter => new DateTime(d.Year, ((d.Month - 1) / 3 * 3) + 1, 1, 0, 0, 0, DateTimeKind.Utc),
            PartitionInterval.Year => new DateTime(d.Year, 1, 1, 0, 0, 0, DateTimeKind.Utc),
            _ => throw new ArgumentOutOfRangeException(nameof(interval)),
        };
    }

    /// <summary>Moves a period start by <paramref name="count"/> periods.</summary>
    public static DateTime Add(PartitionInterval interval, DateTime start, int count) => interval switch
    {
        PartitionInterval.Day => start.AddDays(count),
        PartitionInterval.Week => start.AddDays(7 * count),
        PartitionInterval.Month => start.AddMonths(count),
        PartitionInterval.Quarter => start.AddMonths(3 * count),
        PartitionInterval.Year => start.AddYears(count),
        _ => throw new ArgumentOutOfRangeException(nameof(interval)),
    };

    /// <summary>
    /// How many periods lie from the one starting at <paramref name="from"/> up to (not including) the one starting at
    /// <paramref name="to"/>; both are period starts.
    /// </summary>
    public static int Count(PartitionInterval interval, DateTime from, DateTime to) => interval switch
    {
        PartitionInterval.Day => (int)(to - from).TotalDays,
        PartitionInterval.Week => (int)(to - from).TotalDays / 7,
        PartitionInterval.Month => ((to.Year - from.Year) * 12) + to.Month - from.Month,
        PartitionInterval.Quarter => (((to.Year - from.Year) * 12) + to.Month - from.Month) / 3,
        PartitionInterval.Year => to.Year - from.Year,
        _ => throw new ArgumentOutOfRangeException(nameof(interval)),
    };

    /// <summary>pg_partman's suffix for the period starting at <paramref name="start"/>.</summary>
    public static string Suffix(PartitionInterval interval, DateTime start) => interval switch
    {
        PartitionInterval.Day => start.ToString("'_p'yyyy'_'MM'_'dd", CultureInfo.InvariantCulture),
        PartitionInterval.Week => string.Create(CultureInfo.InvariantCulture,
            $"_p{ISOWeek.GetYear(start):0000}w{ISOWeek.GetWeekOfYear(start):00}"),
        PartitionInterval.Month => start.ToString("'_p'yyyy'_'MM", CultureInfo.InvariantCulture),
        PartitionInterval.Quarter => string.Create(CultureInfo.InvariantCulture, $"_p{start.Year:0000}q{((start.Month - 1) / 3) + 1}"),
        PartitionInterval.Year => start.ToString("'_p'yyyy", CultureInfo.InvariantCulture),
        _ => throw new ArgumentOutOfRangeException(nameof(interval)),
    };

    /// <summary>
    /// The partition name: parent name + suffix, with the parent name cut (never the suffix, never inside a UTF-8
    /// character) so the whole fits PostgreSQL's 63 bytes, as pg_partman's <c>check_name_length</c> does.
    /// </summary>
    public static string Name(string parent, PartitionInterval interval, DateTime start) => Fit(parent, Suffix(interval, start));

    /// <summary>The name of the default partition, <c>{parent}_default</c> (cut like <see cref="Name"/>).</summary>
    public static string DefaultName(string parent) => Fit(parent, "_default");

    /// <summary>Cuts <paramref name="prefix"/> so prefix + suffix fits 63 bytes of UTF-8.</summary>
    public static string Fit(string prefix, string suffix) => Cut(prefix, 63 - Encoding.UTF8.GetByteCount(suffix)) + suffix;

    /// <summary><paramref name="text"/> cut to at most <paramref name="bytes"/> bytes of UTF-8, never inside a character.</summary>
    public static string Cut(string text, int bytes)
    {
        var cut = text;
        while (cut.Length > 0 && Encoding.UTF8.GetByteCount(cut) > bytes)
        {
            cut = cut[..^(char.IsLowSurrogate(cut[^1]) && cut.Length > 1 ? 2 : 1)];
        }

        return cut;
    }

    /// <summary>
    /// The bytes of a table name that every name of its partitions and their template indexes begins with: a template
    /// index name keeps at least this much of the table name (<see cref="IndexName"/> gives the rest to the period, or a
    /// hash, and a suffix of up to <see cref="MaxIndexSuffixBytes"/> bytes).
    /// </summary>
    public const int SharedPrefixBytes = 63 - MaxIndexSuffixBytes - 14;

    /// <summary>The longest index template suffix: the index name keeps it and the partition's period in 63 bytes.</summary>
    public const int MaxIndexSuffixBytes = 40;

    /// <summary>
    /// The name of a template index on <paramref name="partition"/>: <c>{partition}_{suffix}</c> when that fits 63
    /// bytes; otherwise the partition name is cut in its table part, keeping its period (<c>_p2026_11</c>) and the
    /// suffix, or, for a partition not named by period, a short hash of the whole name. Cutting the end of the
    /// partition name (its date) once gave every partition of a long table name the same index name.
    /// </summary>
    public static string IndexName(string partition, string suffix)
    {
        var whole = partition + "_" + suffix;
        if (Encoding.UTF8.GetByteCount(whole) <= 63)
        {
            return whole;
        }

        var period = PeriodSuffix().Match(partition);
        if (period.Success)
        {
            return Fit(partition[..period.Index], period.Value + "_" + suffix);
        }

        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(partition)))[..8];
        return Fit(partition, "_" + hash + "_" + suffix);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"_p[0-9]{4}(_[0-9]{2}(_[0-9]{2})?|w[0-9]{2}|q[1-4])?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex PeriodSuffix();

    /// <summary>
    /// A bound literal for the key column's type, to the microsecond (a bound made by hand may be no whole second: cut
    /// to the second, the partition for the rest of its period overlapped it, and its creation failed at every run).
    /// </summary>
    public static string Literal(DateTime utc, string columnType) => columnType switch
    {
        "date" => utc.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        "timestamp without time zone" => utc.ToString("yyyy-MM-dd HH:mm:ss.FFFFFF", CultureInfo.InvariantCulture),
        _ => utc.ToString("yyyy-MM-dd HH:mm:ss.FFFFFF", CultureInfo.InvariantCulture) + "+00",
    };

    /// <summary>
    /// The key values a partition of a period can hold: from 0001-01-01 (UTC) to before 9999-01-01. Outside, a period's
    /// start or end is not a <see cref="DateTime"/> (<c>-infinity</c>, a date BC, <c>infinity</c>, a year past 9999), so
    /// such rows stay in a default partition.
    /// </summary>
    public static readonly (DateTime From, DateTime To) Placeable =
        (new DateTime(1, 1, 1, 0, 0, 0, DateTimeKind.Utc), new DateTime(9999, 1, 1, 0, 0, 0, DateTimeKind.Utc));

    /// <summary>Placeable, in words, for messages.</summary>
    public const string PlaceableText = "before 0001-01-01 or from 9999-01-01 on (infinity, -infinity, a date BC, a year past 9999)";

    /// <summary>A condition that <paramref name="quotedColumn"/> (of <paramref name="keyType"/>) is within <see cref="Placeable"/>.</summary>
    public static string PlaceableSql(string quotedColumn, string keyType) =>
        $"({quotedColumn} >= '{Literal(Placeable.From, keyType)}' AND {quotedColumn} < '{Literal(Placeable.To, keyType)}')";

    /// <summary>
    /// The settings under which PostgreSQL prints dates and timestamps the way <see cref="ParseLiteral"/> reads them
    /// (for a <c>SET LOCAL</c> in the reading transaction).
    /// </summary>
    public const string IsoSessionSql = "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'";

    private static readonly string[] IsoFormats =
        ["yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFF", "yyyy-MM-dd HH:mm:ss'+00'", "yyyy-MM-dd HH:mm:ss.FFFFFF'+00'"];

    /// <summary>
    /// A date or timestamp as PostgreSQL prints it with <see cref="IsoSessionSql"/> (<c>2026-11-01</c>,
    /// <c>2026-11-01 00:00:00</c>, <c>2026-11-01 00:00:00+00</c>), read exactly as UTC. Any other form (a session whose
    /// DateStyle or TimeZone was not set, <c>infinity</c>, a BC date) is refused rather than guessed: a day and month read
    /// the wrong way round once made retention drop the current partition.
    /// </summary>
    /// <exception cref="FormatException"><paramref name="text"/> is not in that form; the message names <paramref name="what"/>.</exception>
    public static DateTime ParseLiteral(string text, string what) =>
        DateTime.TryParseExact(text, IsoFormats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var value)
            ? value
            : throw new FormatException($"Cannot read {what}: '{text}' is not an ISO date or UTC timestamp (yyyy-MM-dd[ HH:mm:ss[.ffffff][+00]]).");
}
