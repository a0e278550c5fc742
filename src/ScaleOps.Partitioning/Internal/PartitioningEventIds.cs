namespace ScaleOps.Partitioning.Internal;

/// <summary>Log event ids of ScaleOps.Partitioning (the 4000-4999 block).</summary>
internal static class PartitioningEventIds
{
    public const int PartitionCreated = 4001;
    public const int PartitionRemoved = 4002;
    public const int DefaultRowsMoved = 4003;
    public const int DdlLockTimeout = 4004;
    public const int NotLeader = 4005;
    public const int MaintenanceDone = 4006;
    public const int MaintenanceFailed = 4007;
    public const int MaintenanceStepFailed = 4008;
    public const int MaintenanceTableFailed = 4009;
    public const int AuditFlushFailed = 4010;
    public const int AuditDropped = 4011;
    public const int AuditRejected = 4012;
    public const int AuditBatchRejected = 4013;
    public const int TableNotPartitionedYet = 4014;
    public const int DryRunStep = 4015;
    public const int GrantNotSynced = 4016;
    public const int RowSecurityNotSynced = 4017;
    public const int ArchiveStep = 4020;
    public const int ArchiveRestored = 4021;
    public const int ArchiveKept = 4022;
    public const int ArchiveKeptOtherDatabase = 4023;
    public const int RestoringKeptCopy = 4024;
}
