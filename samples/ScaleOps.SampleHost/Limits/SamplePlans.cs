using System;
using Microsoft.Extensions.Configuration;
using ScaleOps.Resilience;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Resilience.RateLimiting;

namespace ScaleOps.SampleHost.Limits;

/// <summary>Turns the sample's plans (section <c>Sample:Plans</c>) into ScaleOps.Resilience rate limits and quotas.</summary>
public static class SamplePlans
{
    public const string Documents = "documents";

    public static void Apply(ResilienceOptions options, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sample = new SampleOptions();
        configuration.GetSection("Sample").Bind(sample);
        options.DefaultPlan = "free";
        options.RateLimiting.Store = RateLimiterStore.Redis;
        // With the tenant registry's own cache (at most Sample:TenantCacheSeconds, 0-6 s) a plan change is in effect on
        // every instance within 10 s, as the HTTP contract promises.
        options.RateLimiting.PlanCacheDuration = TimeSpan.FromSeconds(4);
        options.Quotas.Resources[Documents] = QuotaPeriod.None;
        foreach (var (plan, limits) in sample.Plans)
        {
            options.RateLimiting.Plans[plan] = [new RateLimitRule { PermitLimit = limits.RequestsPerSecond, Window = TimeSpan.FromSeconds(1) }];
            options.Quotas.Plans[plan] = limits.MaxDocuments is { } max ? new() { [Documents] = max } : [];
        }
    }
}
