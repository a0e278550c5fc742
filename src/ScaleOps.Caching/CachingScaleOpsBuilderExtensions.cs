using System;
using System.Linq;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps;
using ScaleOps.Caching;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Internal.Validators;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the tenant cache: <c>services.AddScaleOps().AddCaching(...)</c>.</summary>
public static class CachingScaleOpsBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="ITenantCache"/> (memory + Redis, scoped by the ambient tenant), Microsoft's
    /// <see cref="HybridCache"/> abstraction over it (unless the host registered another one first), and the cache's
    /// maintenance loop. Options bind from <c>ScaleOps:Caching</c>; the Redis connection string may also come from
    /// <c>ConnectionStrings:Redis</c>. Calling it twice is harmless.
    /// </summary>
    /// <param name="builder">The ScaleOps builder.</param>
    /// <param name="configure">Optional code configuration, applied after the configuration section.</param>
    /// <returns>The same builder.</returns>
    public static IScaleOpsBuilder AddCaching(this IScaleOpsBuilder builder, Action<CachingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(CachingMarker)))
        {
            if (configure is not null)
            {
                services.Configure(configure);
            }

            return builder;
        }

        services.AddSingleton<CachingMarker>();
        builder.AddScaleOpsOptions(CachingOptions.SectionName, configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CachingOptions>, CachingOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<CachingOptions>, CachingConnectionStringFallback>());
        builder.AddRedisKeyNamespace<CachingOptions>("ScaleOps.Caching", o => new RedisKeyNamespace(
            CachingDefaults.Prefix + nameof(CachingOptions.KeyPrefix), o.KeyPrefix, RedisKeys.Start(o.KeyPrefix)));
        services.TryAddSingleton<TenantCache>();
        services.TryAddSingleton<ITenantCache>(sp => sp.GetRequiredService<TenantCache>());
        services.TryAddSingleton<HybridCache>(sp => new TenantHybridCache(sp.GetRequiredService<ITenantCache>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, CacheMaintenanceService>());
        return builder;
    }

    /// <summary>Marks that the cache is registered, so a second <c>AddCaching</c> only adds its configuration.</summary>
    private sealed class CachingMarker;
}
