using System;

namespace ScaleOps.Partitioning.Audit;

/// <summary>
/// Where a page of <see cref="IAuditLog.QueryAsync"/> or <see cref="IAuditLog.QueryAfterAsync"/> ended: the last event's time and id. The next page starts right after it, so events that share a timestamp across
/// the page boundary are neither skipped nor repeated (narrowing the range's end to the last event's time skipped them).
/// </summary>
/// <param name="OccurredAt">The event's time, as stored (whole microseconds).</param>
/// <param name="Id">The event's id.</param>
public readonly record struct AuditPosition(DateTimeOffset OccurredAt, Guid Id)
{
    /// <summary>The position of a record, to ask for the events after it.</summary>
    /// <param name="record">The last record of a page.</param>
    /// <returns>Its position.</returns>
    public static AuditPosition Of(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new AuditPosition(record.OccurredAt, record.Id);
    }
}
