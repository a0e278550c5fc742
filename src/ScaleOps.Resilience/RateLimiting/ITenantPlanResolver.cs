using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.RateLimiting;

/// <summary>
/// Tells ScaleOps which plan (tier) a tenant is on. The host implements it (usually from its tenants table, cached) and
/// registers it before or after <c>AddResilience</c>; without one, every tenant is on
/// <see cref="ResilienceOptions.DefaultPlan"/>. Rate limits and quota limits are looked up by this name.
/// </summary>
public interface ITenantPlanResolver
{
    /// <summary>Returns the plan of <paramref name="tenant"/>.</summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The plan name (for example <c>pro</c>), or <see langword="null"/> for the default plan.</returns>
    ValueTask<string?> GetPlanAsync(TenantId tenant, CancellationToken cancellationToken);
}
