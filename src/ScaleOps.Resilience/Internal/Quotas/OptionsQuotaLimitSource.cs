using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Options;
using ScaleOps.Resilience.Internal.RateLimiting;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Internal.Quotas;

/// <summary>The default limits: <see cref="QuotaOptions.Plans"/> for the tenant's plan.</summary>
internal sealed class OptionsQuotaLimitSource(IOptions<ResilienceOptions> options, PlanCatalog plans) : IQuotaLimitSource
{
    public async ValueTask<long?> GetLimitAsync(TenantId tenant, string resource, CancellationToken cancellationToken)
    {
        var plan = await plans.GetNameAsync(tenant, cancellationToken).ConfigureAwait(false);
        var quotas = options.Value.Quotas;
        if (!quotas.Plans.TryGetValue(plan, out var limits))
        {
            if (quotas.Plans.Count == 0)
            {
                return null;
            }

            throw new UnknownPlanException(plan, [.. quotas.Plans.Keys], "ScaleOps:Resilience:Quotas:Plans");
        }

        return limits.TryGetValue(resource, out var limit) ? limit : null;
    }
}
