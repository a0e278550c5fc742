namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>What one maintenance step does.</summary>
public enum PartitionActionKind
{
    /// <summary>Create a missing partition (as a table, indexed, then attached).</summary>
    Create,

    /// <summary>Move the rows of one period out of the default partition into a new proper partition.</summary>
    MoveFromDefault,

    /// <summary>Archive an expired partition to Blob storage (verified) before it is removed.</summary>
    Archive,

    /// <summary>Drop an expired partition.</summary>
    Drop,

    /// <summary>Detach an expired partition and keep it as a table.</summary>
    Detach,

    /// <summary>
    /// Bring a partition's table and column grants in step with the parent's (revoke what the parent does not give,
    /// grant what it does, each as its grantor). Reported only for a partition whose grants differed.
    /// </summary>
    SyncGrants,

    /// <summary>
    /// Bring a partition's row-level security in step with the parent's (its <c>ENABLE</c> and <c>FORCE ROW LEVEL
    /// SECURITY</c>, a copy of each of its policies, the copies of policies it no longer has dropped). Reported only for
    /// a partition that differed.
    /// </summary>
    SyncRowSecurity,
}
