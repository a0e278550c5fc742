using System;

namespace ScaleOps.Resilience.Quotas;

/// <summary>A tenant's usage of one resource in the current period.</summary>
/// <param name="Resource">The resource.</param>
/// <param name="Used">The amount used (reserved and not released) in the period.</param>
/// <param name="Limit">The limit, or <see langword="null"/> when unlimited.</param>
/// <param name="Period">How the resource is counted.</param>
/// <param name="PeriodStart">The start of the current period (UTC), or <see langword="null"/> for <see cref="QuotaPeriod.None"/>.</param>
public sealed record QuotaUsage(string Resource, long Used, long? Limit, QuotaPeriod Period, DateTimeOffset? PeriodStart)
{
    /// <summary>The amount still available, or <see langword="null"/> when unlimited.</summary>
    public long? Remaining => Limit is { } limit ? Math.Max(0, limit - Used) : null;

    /// <summary>
    /// The reservation <c>ReserveAsync</c> just made, to give back once with
    /// <see cref="IQuotaService.ReleaseOnceAsync(QuotaReservation, System.Threading.CancellationToken)"/>;
    /// <see langword="null"/> for a usage that was only read.
    /// </summary>
    public QuotaReservation? Reservation { get; init; }
}
