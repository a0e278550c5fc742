namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>What retention does with a partition whose whole range is older than the retention bound.</summary>
public enum RetentionMode
{
    /// <summary>Drop the partition (its data is gone; archive it first with <see cref="PartitionedTableOptions.Archive"/>).</summary>
    Drop,

    /// <summary>
    /// Detach the partition and keep it as an ordinary table under the same name. A partition made later for the same
    /// period (late rows moved out of a default partition) takes the next free name: <c>_2</c>, <c>_3</c>...
    /// </summary>
    Detach,
}
