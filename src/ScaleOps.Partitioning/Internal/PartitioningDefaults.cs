namespace ScaleOps.Partitioning.Internal;

/// <summary>Constants shared by the options, validator and services.</summary>
internal static class PartitioningDefaults
{
    public const string Section = "ScaleOps:Partitioning";
    public const string AuditTable = "audit_log";
    public const string MaintenanceLock = "scaleops:partitioning:maintenance";
}
