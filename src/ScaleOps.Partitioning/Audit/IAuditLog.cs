using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Partitioning.Audit;

/// <summary>
/// The audit trail: events are queued in a bounded channel and written in batches with binary COPY into the
/// partitioned <c>audit_log</c> table; queries read one tenant's events and touch only the partitions of the range.
/// </summary>
public interface IAuditLog
{
    /// <summary>
    /// Queues an event for the ambient tenant. Completes at once while the queue has room; when PostgreSQL is slow and
    /// the queue is full, it waits (back-pressure) until room frees or <paramref name="cancellationToken"/> fires.
    /// </summary>
    /// <param name="entry">The event.</param>
    /// <param name="cancellationToken">Cancels the wait for room.</param>
    /// <returns>The event's id.</returns>
    /// <exception cref="ScaleOps.Tenancy.TenantRequiredException">No tenant scope is active.</exception>
    /// <exception cref="InvalidOperationException">The host is shutting down and the writer accepts no more events.</exception>
    /// <exception cref="ArgumentException">A field holds a value PostgreSQL can never store (a NUL character or a lone
    /// UTF-16 surrogate in text, <c>\u0000</c> or a lone surrogate escape in JSON, a null <c>Action</c> or
    /// <c>EntityType</c>); the message names the field.</exception>
    ValueTask<Guid> WriteAsync(AuditEntry entry, CancellationToken cancellationToken = default);

    /// <summary>Waits until every event queued before this call is written.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    Task FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The ambient tenant's events with <c>from &lt;= occurred_at &lt; to</c>, newest first (events of the same time by
    /// descending id; page on with <see cref="QueryAfterAsync"/>). The range is sent as
    /// parameters of a prepared statement with a generic plan, so only the partitions of the range are scanned.
    /// </summary>
    /// <param name="from">The inclusive start.</param>
    /// <param name="to">The exclusive end.</param>
    /// <param name="limit">The most events returned, 1 to 10,000.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The events; empty when <paramref name="to"/> equals <paramref name="from"/>.</returns>
    /// <exception cref="ScaleOps.Tenancy.TenantRequiredException">No tenant scope is active.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is not 1 to 10,000.</exception>
    /// <exception cref="ArgumentException"><paramref name="from"/> is after <paramref name="to"/> (a reversed range).</exception>
    Task<IReadOnlyList<AuditRecord>> QueryAsync(DateTimeOffset from, DateTimeOffset to, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// The next page of <see cref="QueryAsync"/>: the ambient
    /// tenant's events in the range that come after <paramref name="after"/> in its order (newest first; events of the
    /// same time by descending id), so a page boundary between events of one timestamp skips and repeats none.
    /// </summary>
    /// <param name="from">The inclusive start.</param>
    /// <param name="to">The exclusive end.</param>
    /// <param name="after">The position of the previous page's last event (<see cref="AuditPosition.Of"/>).</param>
    /// <param name="limit">The most events returned, 1 to 10,000.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The events.</returns>
    /// <exception cref="ScaleOps.Tenancy.TenantRequiredException">No tenant scope is active.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is not 1 to 10,000.</exception>
    /// <exception cref="ArgumentException"><paramref name="from"/> is after <paramref name="to"/> (a reversed range).</exception>
    Task<IReadOnlyList<AuditRecord>> QueryAfterAsync(
        DateTimeOffset from, DateTimeOffset to, AuditPosition after, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// The partitions <see cref="QueryAsync"/> reads for this range and the ambient tenant: the same statement, run under
    /// <c>EXPLAIN (ANALYZE)</c>, so operators can check that a query is pruned to the partitions of its range.
    /// </summary>
    /// <param name="from">The inclusive start.</param>
    /// <param name="to">The exclusive end.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The names of the partitions read, sorted; empty when <paramref name="to"/> equals <paramref name="from"/>.</returns>
    /// <exception cref="ScaleOps.Tenancy.TenantRequiredException">No tenant scope is active.</exception>
    /// <exception cref="ArgumentException"><paramref name="from"/> is after <paramref name="to"/> (a reversed range).</exception>
    Task<IReadOnlyList<string>> PartitionsReadAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default);

    /// <summary>One event of the ambient tenant by id; the id's timestamp bounds the search to one partition.</summary>
    /// <param name="id">The event id returned by <see cref="WriteAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The event, or <see langword="null"/>.</returns>
    Task<AuditRecord?> FindAsync(Guid id, CancellationToken cancellationToken = default);
}
