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
}
