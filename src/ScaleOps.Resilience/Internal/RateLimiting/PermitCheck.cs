using System;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Internal.RateLimiting;

internal static class PermitCheck
{
    /// <summary>
    /// Rejects <c>default(TenantId)</c>, which holds no tenant: given a bucket it would be one shared by every caller that
    /// passes it (a tenant resolution gone wrong).
    /// </summary>
    public static void Tenant(TenantId resource)
    {
        if (resource.IsDefault)
        {
            throw new ArgumentException(
                "default(TenantId) is not a tenant: the tenant rate limiter needs the request's tenant (new TenantId(value)).", nameof(resource));
        }
    }

    /// <summary>Rejects permit counts that no bucket of the plan could ever grant.</summary>
    public static void Validate(CompiledPlan plan, int permitCount)
    {
        if (permitCount < 0 || permitCount > plan.MinCapacity)
        {
            throw new ArgumentOutOfRangeException(nameof(permitCount), permitCount,
                $"The permit count must be from 0 to {plan.MinCapacity} (the smallest bucket of plan '{plan.Name}').");
        }
    }
}
