using System;

namespace ScaleOps.Resilience.Quotas;

/// <summary>
/// What a release gave back. It carries no limit: a release never asks the <see cref="IQuotaLimitSource"/> (it must work
/// while the limit store is down or the tenant's plan is gone); <see cref="IQuotaService.GetUsageAsync"/> reports it.
/// </summary>
/// <param name="Resource">The resource.</param>
/// <param name="Released">The amount this call gave back: less than asked when the usage was lower (it never goes below 0), 0 when nothing was in use or the reservation was already released.</param>
/// <param name="Used">The usage of the period after the release.</param>
/// <param name="Period">How the resource is counted.</param>
/// <param name="PeriodStart">The start of the period released from (UTC), or <see langword="null"/> for <see cref="QuotaPeriod.None"/>.</param>
public sealed record QuotaRelease(string Resource, long Released, long Used, QuotaPeriod Period, DateTimeOffset? PeriodStart);
