using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Partitioning.Queries;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class AuditWriter
{
    public Task<IReadOnlyList<AuditRecord>> QueryAsync(DateTimeOffset from, DateTimeOffset to, int limit = 100, CancellationToken cancellationToken = default) =>
        QueryAsync(from, to, null, limit, cancellationToken);

    public Task<IReadOnlyList<AuditRecord>> QueryAfterAsync(
        DateTimeOffset from, DateTimeOffset to, AuditPosition after, int limit = 100, CancellationToken cancellationToken = default) =>
        QueryAsync(from, to, after, limit, cancellationToken);

    private async Task<IReadOnlyList<AuditRecord>> QueryAsync(
        DateTimeOffset from, DateTimeOffset to, AuditPosition? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        var tenant = _tenants.RequireTenant();
        if (!IsRange(from, to))
        {
            return [];
        }

        var end = to.UtcDateTime;
        if (after is { } position)
        {
            // The events after the position are at its time or earlier: the range's end moves down to just past it, so
            // the index scan starts there and newer partitions are pruned; the id orders the events of that very time.
            var past = position.OccurredAt.UtcDateTime.AddTicks(TimeSpan.TicksPerMicrosecond);
            end = past < end ? past : end;
            if (end <= from.UtcDateTime)
            {
                return [];
            }
        }

        return await _store.QueryAsync(tenant.Value, from.UtcDateTime, end, after, limit, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>> PartitionsReadAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        var tenant = _tenants.RequireTenant();
        if (!IsRange(from, to))
        {
            return [];
        }

        return await _store.PartitionsReadAsync(tenant.Value, from.UtcDateTime, to.UtcDateTime, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether [from, to) holds any time; a reversed range is a mistake, not an empty answer.</summary>
    /// <exception cref="ArgumentException"><paramref name="from"/> is after <paramref name="to"/>.</exception>
    private static bool IsRange(DateTimeOffset from, DateTimeOffset to) => from <= to
        ? from < to
        : throw new ArgumentException(
            $"The range is reversed: from ({from.ToString("O", CultureInfo.InvariantCulture)}) is after to "
            + $"({to.ToString("O", CultureInfo.InvariantCulture)}); pass the earlier time first.", nameof(from));

    public Task<AuditRecord?> FindAsync(Guid id, CancellationToken cancellationToken = default)
    {
        var tenant = _tenants.RequireTenant();
        // An id whose time no DateTime holds (an id from a request may be any version 7 UUID) is no event's.
        if (id.Version != 7 || !PruningBounds.TryUuidV7Time(id, out _))
        {
            return Task.FromResult<AuditRecord?>(null);
        }

        // A version 7 UUID starts with its Unix time in milliseconds; occurred_at lies within that millisecond.
        var (from, to) = PruningBounds.FromUuidV7(id);
        return _store.FindAsync(tenant.Value, id, from, to, cancellationToken);
    }
}
