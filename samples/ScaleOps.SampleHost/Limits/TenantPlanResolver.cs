using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.SampleHost.Tenancy;
using ScaleOps.Tenancy;

namespace ScaleOps.SampleHost.Limits;

/// <summary>The tenant's plan for rate limits and quotas, from the tenant registry (cached a few seconds per instance).</summary>
public sealed class TenantPlanResolver(TenantDirectory directory) : ITenantPlanResolver
{
    public async ValueTask<string?> GetPlanAsync(TenantId tenant, CancellationToken cancellationToken) =>
        (await directory.FindAsync(tenant.Value, cancellationToken))?.Plan;
}
