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
    /// <summary>
    /// Grants on the table's partitions (in its schema) that the parent does not give: access the parent's grants do
    /// not allow to a role naming a partition. Maintenance revokes them; one that stays after a run is one the
    /// maintenance role cannot revoke as its grantor (logged, 4016): revoke it as that role.
    /// </summary>
    /// <value>0 when the partitions' grants are the parent's (a grant the parent gives but the maintenance role
    /// could not make on a partition is logged, not counted: it grants less, not more).</value>
    public int PartitionGrantsNotOnParent { get; init; }

    /// <summary>
    /// Partitions of the table (in its schema) whose row-level security differs from the parent's: <c>ENABLE</c> or
    /// <c>FORCE ROW LEVEL SECURITY</c>, or a policy of the parent missing or different, or a copy of a policy the parent
    /// no longer has. Maintenance brings them in step; one that stays after a run is one it cannot or will not change
    /// (logged, 4017): a partition whose owner the maintenance role cannot act as, or one that keeps row-level security
    /// (or FORCE) the parent no longer has. Policies made on a partition by hand, under a name the parent does not use,
    /// are not counted.
    /// </summary>
    /// <value>0 when every partition's row-level security is the parent's.</value>
    public int PartitionRowSecurityNotAsParent { get; init; }

    /// <summary>Whether nothing needs attention.</summary>
    public bool IsHealthy =>
        MissingFuturePartitions == 0 && DefaultPartitionRows == 0 && PartitionsPastRetention == 0 && PartitionGrantsNotOnParent == 0
        && PartitionRowSecurityNotAsParent == 0;
}
