using System;
using System.Collections.Generic;
using System.Linq;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>A configured table, names quoted once, plus the configuration path used in error messages.</summary>
internal sealed class ManagedTable
{
    /// <param name="options">The table's options.</param>
    /// <param name="settingPath">The configuration path, for messages.</param>
    /// <param name="actualName">The table's current name when it differs from the configured one (during a conversion).</param>
    public ManagedTable(PartitionedTableOptions options, string settingPath, string? actualName = null)
    {
        Options = options;
        SettingPath = settingPath;
        Qualified = SqlIdentifier.Qualify(options.Schema, actualName ?? options.Name);
        QuotedSchema = SqlIdentifier.Quote(options.Schema);
        QuotedColumn = SqlIdentifier.Quote(options.Column);
        Indexes = [.. options.Indexes];
    }

    public PartitionedTableOptions Options { get; }

    /// <summary>For example <c>ScaleOps:Partitioning:Tables:0</c>.</summary>
    public string SettingPath { get; }

    public string Qualified { get; }

    public string QuotedSchema { get; }

    public string QuotedColumn { get; }

    public IReadOnlyList<PartitionIndexTemplate> Indexes { get; }

    public PartitionInterval Interval => Options.Interval;

    public string QualifyPartition(string partition) => QuotedSchema + "." + SqlIdentifier.Quote(partition);

    /// <summary>A partition as PostgreSQL lists it, in its own schema (which may not be the table's).</summary>
    public static string QualifyPartition(PartitionInfo partition) => SqlIdentifier.Qualify(partition.Schema, partition.Name);

    /// <summary>
    /// Whether the partition is in the table's schema, where the partitions this package creates, archives and removes
    /// by name are. One attached from another schema is left to its owner: named by the table's schema, a same-named
    /// partition there (the current month's) was detached and dropped in its place.
    /// </summary>
    public bool InOwnSchema(PartitionInfo partition) => string.Equals(partition.Schema, Options.Schema, StringComparison.Ordinal);

    public string PartitionName(DateTime start) => PartitionPeriods.Name(Options.Name, Interval, start);

    /// <summary><see cref="PartitionedTableOptions.MaxPastPeriods"/>, or its default for the interval.</summary>
    public int MaxPastPeriods => Options.MaxPastPeriods ?? Interval switch
    {
        PartitionInterval.Day => 1100,
        PartitionInterval.Week => 520,
        PartitionInterval.Month => 300,
        _ => 100,
    };

    /// <summary>
    /// The start of the oldest period a partition is made for: <see cref="MaxPastPeriods"/> before the current one (no
    /// earlier than 0001-01-01).
    /// </summary>
    public DateTime OldestPeriod(DateTime now)
    {
        var current = PartitionPeriods.Floor(Interval, now);
        return PartitionPeriods.Count(Interval, PartitionPeriods.Placeable.From, current) <= MaxPastPeriods
            ? PartitionPeriods.Placeable.From
            : PartitionPeriods.Add(Interval, current, -MaxPastPeriods);
    }

    /// <summary>For messages: <c>ScaleOps:Partitioning:Tables:0:MaxPastPeriods = 300 Month periods</c>.</summary>
    public string MaxPastPeriodsText => $"{SettingPath}:MaxPastPeriods = {MaxPastPeriods} ({Interval} periods before the current one)";

    public DateTime? RetentionCutoff(DateTime now) =>
        Options.Retention is { } keep ? PartitionPeriods.Add(Interval, PartitionPeriods.Floor(Interval, now), -keep) : null;

    public static IEnumerable<ManagedTable> From(PartitioningOptions options, string scaleOpsSchema)
    {
        var i = 0;
        foreach (var table in options.Tables)
        {
            yield return new ManagedTable(table, $"{PartitioningDefaults.Section}:Tables:{i++}");
        }

        if (options.Audit.Enabled)
        {
            yield return new ManagedTable(AuditTable(options, scaleOpsSchema), $"{PartitioningDefaults.Section}:Audit");
        }
    }

    public static PartitionedTableOptions AuditTable(PartitioningOptions options, string scaleOpsSchema) => new()
    {
        Schema = scaleOpsSchema,
        Name = PartitioningDefaults.AuditTable,
        Column = "occurred_at",
        Interval = options.Audit.Interval,
        Premake = options.Audit.Premake,
        Retention = options.Audit.Retention,
        Archive = options.Audit.Archive,
        RetentionMode = RetentionMode.Drop,
    };

    public static bool IsTimeType(string type) => type is "timestamp with time zone" or "timestamp without time zone" or "date";

    public override string ToString() => Qualified;

    public bool Covers(IEnumerable<PartitionInfo> partitions, DateTime from, DateTime to) =>
        partitions.Any(p => !p.IsDefault && (p.From ?? DateTime.MinValue) < to && (p.To ?? DateTime.MaxValue) > from);

    /// <summary>
    /// The parts of [<paramref name="from"/>, <paramref name="to"/>) that no partition covers, in order: the whole range
    /// when none overlaps it, nothing when it is covered, else what partitions of another width (weekly ones made by
    /// pg_partman for a table now declared monthly) leave open. Only overlapping was checked once: a month that a week
    /// partition touched got no partition, and its other days refused every INSERT.
    /// </summary>
    public static List<(DateTime From, DateTime To)> Gaps(IEnumerable<PartitionInfo> partitions, DateTime from, DateTime to)
    {
        var gaps = new List<(DateTime, DateTime)>();
        var at = from;
        foreach (var (start, end) in partitions.Where(p => !p.IsDefault)
            .Select(p => (From: p.From ?? DateTime.MinValue, To: p.To ?? DateTime.MaxValue))
            .Where(p => p.From < to && p.To > from).OrderBy(p => p.From))
        {
            if (start > at)
            {
                gaps.Add((at, start));
            }

            if (end > at)
            {
                at = end;
            }

            if (at >= to)
            {
                return gaps;
            }
        }

        gaps.Add((at, to));
        return gaps;
    }

    /// <summary>
    /// The name of the partition for a part of the period starting at <paramref name="start"/>: the period's own
    /// (pg_partman's) name for <paramref name="index"/> 0, then <c>_2</c>, <c>_3</c>... (a name already taken is skipped).
    /// </summary>
    public string GapName(DateTime start, int index) => index == 0
        ? PartitionName(start)
        : PartitionPeriods.Fit(Options.Name, PartitionPeriods.Suffix(Interval, start) + "_" + (index + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
}
