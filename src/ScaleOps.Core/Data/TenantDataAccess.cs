namespace ScaleOps.Data;

/// <summary>What a tenant-scoped connection is for, so a router can send reads to a replica.</summary>
public enum TenantDataAccess
{
    /// <summary>Writes and reads that must see the latest writes (read-your-writes): always the primary.</summary>
    ReadWrite = 0,

    /// <summary>Reads that tolerate a bounded replication lag: a read replica when one is configured and healthy.</summary>
    ReadOnly = 1,
}
