using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ScaleOps.Caching;

namespace ScaleOps.SampleHost.Ops;

/// <summary>Redis behind the cache: Degraded (never Unhealthy) while the cache serves from memory only.</summary>
public sealed class CacheHealthCheck(ITenantCache cache) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = cache.GetStatus();
        return Task.FromResult(status.IsDegraded
            ? HealthCheckResult.Degraded($"Redis is unavailable; the cache serves from memory ({status.LastRedisError}).")
            : HealthCheckResult.Healthy($"Redis in use; hit ratio {status.HitRatio:P0}."));
    }
}
