using System.Collections.Generic;

namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>
/// One table partitioned by time range that ScaleOps maintains. The table itself (<c>CREATE TABLE ... PARTITION BY
/// RANGE (column)</c>) is yours; ScaleOps creates its partitions ahead, moves stray rows out of a default partition,
/// applies retention and archives closed partitions.
/// </summary>
public sealed class PartitionedTableOptions
{
    /// <summary>The schema of the partitioned table.</summary>
    /// <value>Default <c>public</c>. Always quoted.</value>
    public string Schema { get; set; } = "public";

    /// <summary>The name of the partitioned (parent) table.</summary>
    /// <value>Required. Always quoted; partitions are named <c>{Name}_p{period}</c> like pg_partman's.</value>
    public string Name { get; set; } = "";

    /// <summary>The partition key column, of type <c>timestamptz</c>, <c>timestamp</c> or <c>date</c>.</summary>
    /// <value>Required. Checked against the table at start-up: a non-time column fails the start.</value>
    public string Column { get; set; } = "";

    /// <summary>The width of one partition.</summary>
    /// <value>Default <see cref="PartitionInterval.Month"/>.</value>
    public PartitionInterval Interval { get; set; } = PartitionInterval.Month;

    /// <summary>How many partitions past the current one always exist (pg_partman's <c>premake</c>).</summary>
    /// <value>Default 4; 1 to 366. When the table has no partition yet, as many past ones are created too.</value>
    public int Premake { get; set; } = 4;

    /// <summary>
    /// How many whole intervals before the current one are kept; a partition whose upper bound is at or before
    /// <c>start of current interval - Retention intervals</c> is removed. <see langword="null"/> keeps everything.
    /// </summary>
    /// <value>Default <see langword="null"/>. When set: at least <see cref="Premake"/> (a shorter retention is a
    /// configuration mistake that would drop current data) and at least 1.</value>
    public int? Retention { get; set; }

    /// <summary>What retention does with an expired partition.</summary>
    /// <value>Default <see cref="RetentionMode.Drop"/>.</value>
    public RetentionMode RetentionMode { get; set; } = RetentionMode.Drop;

    /// <summary>Whether an expired partition is archived (Parquet in Blob storage, verified) before it is removed.</summary>
    /// <value>Default <see langword="false"/>. Needs <see cref="ScaleOps.Partitioning.PartitioningOptions.BlobConnectionString"/>.</value>
    public bool Archive { get; set; }

    /// <summary>Indexes created on every new partition.</summary>
    /// <value>Default empty.</value>
    public IList<PartitionIndexTemplate> Indexes { get; set; } = [];

    /// <summary>
    /// How far back, in periods before the current one, a partition is made for rows: a conversion refuses a table with
    /// older rows, and maintenance leaves such rows in the default partition and reports them at every run. One row in
    /// 1970 once made a conversion fill every month since with a partition (682 of them, nearly all empty), and each
    /// partition adds to the planning of every query on the table.
    /// </summary>
    /// <value>
    /// Default <see langword="null"/>: 1,100 days (about 3 years), 520 weeks, 300 months, 100 quarters or 100 years,
    /// by <see cref="Interval"/>. When set: 1 to 100,000.
    /// </value>
    public int? MaxPastPeriods { get; set; }
}
