using System;
using System.Collections.Generic;

namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>The health of one maintained table.</summary>
/// <param name="Table">The parent table, schema-qualified and quoted.</param>
/// <param name="MissingFuturePartitions">Periods from the current one through <c>Premake</c> ahead with no partition (should be 0).</param>
/// <param name="DefaultPartitionRows">Rows in the default partition (an alarm when above 0: they block partition creation).</param>
/// <param name="PartitionsPastRetention">Partitions older than the retention bound still attached (should be 0 after maintenance).</param>
/// <param name="TotalBytes">The size of all partitions, indexes included.</param>
/// <param name="Partitions">Every partition with its bounds and size.</param>
/// <param name="CheckedAt">When the report was taken (the host's <see cref="TimeProvider"/>).</param>
public sealed record PartitionHealth(
    string Table,
    int MissingFuturePartitions,
    long DefaultPartitionRows,
    int PartitionsPastRetention,
    long TotalBytes,
    IReadOnlyList<PartitionInfo> Partitions,
    DateTimeOffset CheckedAt)
{
    /// <summary>Whether nothing needs attention.</summary>
    public bool IsHealthy => MissingFuturePartitions == 0 && DefaultPartitionRows == 0 && PartitionsPastRetention == 0;
}
