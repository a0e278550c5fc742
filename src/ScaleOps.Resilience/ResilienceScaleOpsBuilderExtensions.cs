using System;
using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;
using ScaleOps;
using ScaleOps.Diagnostics;
using ScaleOps.Resilience;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Resilience.Internal;
using ScaleOps.Resilience.Internal.Quotas;
using ScaleOps.Resilience.Internal.RateLimiting;
using ScaleOps.Resilience.Internal.Validators;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds ScaleOps.Resilience: <c>services.AddScaleOps().AddResilience(...)</c>.</summary>
public static class ResilienceScaleOpsBuilderExtensions
{
    /// <summary>
    /// Registers the tenant rate limiter (<see cref="PartitionedRateLimiter{TenantId}"/>, local or Redis by
    /// <see cref="RateLimitingOptions.Store"/>) and its <see cref="AmbientTenantRateLimiter"/>, the <see cref="IQuotaService"/> and its migration, the
    /// <see cref="CircuitBreakerRegistry"/>, its <see cref="CircuitBreakerHealthCheck"/> and the
    /// <see cref="DegradationFeatureFilter"/>. Options bind from <c>ScaleOps:Resilience</c> and are validated at start-up.
    /// Register an <see cref="ITenantPlanResolver"/> to give tenants their plans. Calling it twice is harmless.
    /// </summary>
    /// <param name="builder">The ScaleOps builder.</param>
    /// <param name="configure">Optional code configuration, applied after the configuration section.</param>
    /// <returns>The same builder.</returns>
    public static IScaleOpsBuilder AddResilience(this IScaleOpsBuilder builder, Action<ResilienceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddScaleOpsOptions("Resilience", configure);
        builder.AddMigrations("resilience", typeof(ResilienceOptions).Assembly, "ScaleOps.Resilience.Sql.Migrations.");

        var services = builder.Services;
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<ResilienceOptions>, RedisConnectionStringFallback>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ResilienceOptions>, ResilienceOptionsValidator>());

        // The Redis limiter's keys, {RedisKeyPrefix}{{tenant}}:{plan} (RedisTenantRateLimiter.Key), start with the prefix and
        // the tenant's hash tag; the local limiter writes none. Core refuses a cache (or other package) prefix that overlaps.
        builder.AddRedisKeyNamespace<ResilienceOptions>("ScaleOps.Resilience", o => o.RateLimiting.Store == RateLimiterStore.Redis
            ? new RedisKeyNamespace("ScaleOps:Resilience:RateLimiting:RedisKeyPrefix", o.RateLimiting.RedisKeyPrefix, o.RateLimiting.RedisKeyPrefix + "{")
            : null);

        services.TryAddSingleton(sp => new ResilienceMetrics(sp.GetRequiredService<ScaleOpsMetrics>()));
        services.TryAddSingleton(sp => new CircuitBreakerRegistry(
            sp.GetRequiredService<IOptions<ResilienceOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ResilienceMetrics>(),
            sp.GetRequiredService<ILogger<CircuitBreakerRegistry>>()));
        services.TryAddSingleton<CircuitBreakerHealthCheck>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IFeatureFilterMetadata, DegradationFeatureFilter>());

        services.TryAddSingleton<PlanCatalog>();
        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton<LeaseShutdown>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, LeaseShutdown>(sp => sp.GetRequiredService<LeaseShutdown>()));
        services.TryAddSingleton<PartitionedRateLimiter<TenantId>>(CreateLimiter);
        services.TryAddSingleton<AmbientTenantRateLimiter>();

        services.TryAddSingleton<IQuotaLimitSource, OptionsQuotaLimitSource>();
        services.TryAddSingleton<IQuotaService, QuotaService>();
        return builder;
    }

    private static PartitionedRateLimiter<TenantId> CreateLimiter(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<ResilienceOptions>>().Value;
        var plans = services.GetRequiredService<PlanCatalog>();
        var time = services.GetRequiredService<TimeProvider>();
        var metrics = services.GetRequiredService<ResilienceMetrics>();
        if (options.RateLimiting.Store != RateLimiterStore.Redis)
        {
            return new LocalTenantRateLimiter(plans, time, metrics);
        }

        var limiter = new RedisTenantRateLimiter(plans, services.GetRequiredService<RedisConnection>(), services.GetRequiredService<CircuitBreakerRegistry>(),
            options, time, metrics, services.GetRequiredService<ILogger<RedisTenantRateLimiter>>());
        services.GetRequiredService<LeaseShutdown>().Limiter = limiter; // its leased tokens go back when the host stops
        return limiter;
    }
}
