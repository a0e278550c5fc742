using System;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Partitioning.Internal;

/// <summary>Source-generated log messages of ScaleOps.Partitioning.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = PartitioningEventIds.PartitionCreated, Level = LogLevel.Information, Message = "Created partition {Partition} of {Table}")]
    public static partial void PartitionCreated(ILogger logger, string table, string partition);

    [LoggerMessage(EventId = PartitioningEventIds.PartitionRemoved, Level = LogLevel.Information, Message = "{What} partition {Partition} of {Table}")]
    public static partial void PartitionRemoved(ILogger logger, string table, string partition, string what);

    [LoggerMessage(EventId = PartitioningEventIds.DefaultRowsMoved, Level = LogLevel.Warning,
        Message = "Moved {Rows} rows of {Table} out of its default partition into {Partition}")]
    public static partial void DefaultRowsMoved(ILogger logger, string table, long rows, string partition);

    [LoggerMessage(EventId = PartitioningEventIds.DdlLockTimeout, Level = LogLevel.Information,
        Message = "DDL '{What}' timed out waiting for its lock (attempt {Attempt} of {Attempts}); retrying in {Delay}")]
    public static partial void DdlLockTimeout(ILogger logger, string what, int attempt, int attempts, TimeSpan delay);

    [LoggerMessage(EventId = PartitioningEventIds.NotLeader, Level = LogLevel.Debug, Message = "Partition maintenance skipped: another host holds the lock")]
    public static partial void NotLeader(ILogger logger);

    [LoggerMessage(EventId = PartitioningEventIds.MaintenanceDone, Level = LogLevel.Debug,
        Message = "Partition maintenance did {Actions} steps ({Failures} failed) in {Milliseconds} ms")]
    public static partial void MaintenanceDone(ILogger logger, int actions, int failures, double milliseconds);

    [LoggerMessage(EventId = PartitioningEventIds.MaintenanceStepFailed, Level = LogLevel.Error,
        Message = "Partition maintenance step {Kind} {Partition} of {Table} failed; the run goes on with the other steps and tables")]
    public static partial void MaintenanceStepFailed(ILogger logger, Exception exception, string kind, string partition, string table);

    [LoggerMessage(EventId = PartitioningEventIds.MaintenanceTableFailed, Level = LogLevel.Error,
        Message = "Partition maintenance could not check or plan {Table}; the run goes on with the other tables")]
    public static partial void MaintenanceTableFailed(ILogger logger, Exception exception, string table);

    /// <summary>
    /// One planned step of a dry run; the rows to move only for a step that has them (a create, archive or drop printed
    /// "((null) rows to move)").
    /// </summary>
    public static void DryRunStep(ILogger logger, int step, int steps, string kind, string partition, string table, long? rows)
    {
        if (rows is { } count)
        {
            DryRunMove(logger, step, steps, kind, partition, table, count);
        }
        else
        {
            DryRunStep(logger, step, steps, kind, partition, table);
        }
    }

    [LoggerMessage(EventId = PartitioningEventIds.DryRunStep, Level = LogLevel.Information,
        Message = "Dry run, planned step {Step} of {Steps}: {Kind} {Partition} of {Table}")]
    private static partial void DryRunStep(ILogger logger, int step, int steps, string kind, string partition, string table);

    [LoggerMessage(EventId = PartitioningEventIds.DryRunStep, Level = LogLevel.Information,
        Message = "Dry run, planned step {Step} of {Steps}: {Kind} {Partition} of {Table} ({Rows} rows to move)")]
    private static partial void DryRunMove(ILogger logger, int step, int steps, string kind, string partition, string table, long rows);

    [LoggerMessage(EventId = PartitioningEventIds.GrantNotSynced, Level = LogLevel.Warning,
        Message = "Grants of {Table}: cannot {Action} {Privilege} on partition {Partition} to {Grantee} as its grantor {Grantor} ({Reason}); "
            + "left as it is, not done as another role")]
    public static partial void GrantNotSynced(ILogger logger, string action, string privilege, string table, string partition, string grantee, string grantor,
        string reason);

    [LoggerMessage(EventId = PartitioningEventIds.RowSecurityNotSynced, Level = LogLevel.Warning,
        Message = "Row-level security of {Table}: partition {Partition} {Difference}")]
    public static partial void RowSecurityNotSynced(ILogger logger, string table, string partition, string difference);

    [LoggerMessage(EventId = PartitioningEventIds.TableNotPartitionedYet, Level = LogLevel.Warning, Message = "{Message}")]
    public static partial void TableNotPartitionedYet(ILogger logger, string message);

    [LoggerMessage(EventId = PartitioningEventIds.MaintenanceFailed, Level = LogLevel.Error, Message = "Partition maintenance failed; it runs again at the next tick")]
    public static partial void MaintenanceFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = PartitioningEventIds.AuditFlushFailed, Level = LogLevel.Error,
        Message = "Writing {Count} audit events failed (attempt {Attempt}); they stay queued and are retried")]
    public static partial void AuditFlushFailed(ILogger logger, Exception exception, int count, int attempt);

    [LoggerMessage(EventId = PartitioningEventIds.AuditRejected, Level = LogLevel.Error,
        Message = "Audit event {Id} of tenant {Tenant} ({Action}) was rejected by PostgreSQL ({Reason}) and dropped: it could never be written")]
    public static partial void AuditRejected(ILogger logger, Exception exception, Guid id, string tenant, string action, string reason);

    [LoggerMessage(EventId = PartitioningEventIds.AuditBatchRejected, Level = LogLevel.Warning,
        Message = "Writing {Count} audit events was rejected for their data; splitting the batch to find the events PostgreSQL refuses")]
    public static partial void AuditBatchRejected(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = PartitioningEventIds.AuditDropped, Level = LogLevel.Critical,
        Message = "{Count} audit events could not be written before shutdown")]
    public static partial void AuditDropped(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = PartitioningEventIds.ArchiveStep, Level = LogLevel.Information,
        Message = "Archive of {Partition}: {Step} ({Rows} rows)")]
    public static partial void ArchiveStep(ILogger logger, string partition, string step, long rows);

    [LoggerMessage(EventId = PartitioningEventIds.ArchiveRestored, Level = LogLevel.Information,
        Message = "Restored {Rows} rows of archived partition {Partition}")]
    public static partial void ArchiveRestored(ILogger logger, string partition, long rows);

    [LoggerMessage(EventId = PartitioningEventIds.ArchiveKept, Level = LogLevel.Warning,
        Message = "Partition {Partition} was archived before from another table of that name ({Rows} rows at {ArchivedAt}); that archive is kept as {Manifest}")]
    public static partial void ArchiveKept(ILogger logger, string partition, long rows, DateTimeOffset archivedAt, string manifest);

    [LoggerMessage(EventId = PartitioningEventIds.ArchiveKeptOtherDatabase, Level = LogLevel.Warning,
        Message = "Partition {Partition} was archived into this container by another database (archive identity {OtherDatabase}; this database's is {Database}) "
        + "({Rows} rows at {ArchivedAt}); that archive is kept as {Manifest}. Give each database its own ArchiveContainer")]
    public static partial void ArchiveKeptOtherDatabase(ILogger logger, string partition, Guid otherDatabase, Guid database, long rows, DateTimeOffset archivedAt,
        string manifest);

    [LoggerMessage(EventId = PartitioningEventIds.RestoringKeptCopy, Level = LogLevel.Information,
        Message = "Partition {Partition} is restored from this database's archive kept as {Manifest}: the partition's name holds another database's "
        + "(archive identity {OtherDatabase})")]
    public static partial void RestoringKeptCopy(ILogger logger, string partition, string manifest, Guid otherDatabase);
}
