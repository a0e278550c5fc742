using System;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Quotas;

/// <summary>
/// One reservation made by <c>ReserveAsync</c> or <c>ReserveOnceAsync</c> (<see cref="QuotaUsage.Reservation"/>): give it back with
/// <see cref="IQuotaService.ReleaseOnceAsync(QuotaReservation, System.Threading.CancellationToken)"/>, which gives it back
/// once however often it is called. Keep it (or its values) with what it paid for to release it later.
/// </summary>
/// <param name="Id">The reservation's id, unique per reservation: made by <c>ReserveAsync</c>, or the one passed to <c>ReserveOnceAsync</c>.</param>
/// <param name="Tenant">The tenant it was reserved for; it is released only inside that tenant's scope.</param>
/// <param name="Resource">The resource.</param>
/// <param name="Amount">The amount reserved.</param>
/// <param name="PeriodStart">The start of the period it was reserved in (UTC), or <see langword="null"/> for <see cref="QuotaPeriod.None"/>.</param>
public sealed record QuotaReservation(Guid Id, TenantId Tenant, string Resource, long Amount, DateTimeOffset? PeriodStart);
