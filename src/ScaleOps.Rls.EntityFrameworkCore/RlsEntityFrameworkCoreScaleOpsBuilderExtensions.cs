using System;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ScaleOps;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Rls.Internal;
using ScaleOps.Tenancy;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds ScaleOps.Rls for EF Core: <c>services.AddScaleOps(...).AddRls(...).AddRlsEntityFrameworkCore()</c>.</summary>
public static class RlsEntityFrameworkCoreScaleOpsBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="RlsDbCommandInterceptor"/> (a singleton), which makes every EF Core command carry the ambient
    /// tenant; add it to your context with <c>optionsBuilder.AddInterceptors(sp.GetRequiredService&lt;RlsDbCommandInterceptor&gt;())</c>.
    /// Calls <c>AddRls()</c> (harmless when it was called already). Calling it twice is harmless.
    /// </summary>
    /// <param name="builder">The ScaleOps builder.</param>
    /// <returns>The same builder.</returns>
    public static IScaleOpsBuilder AddRlsEntityFrameworkCore(this IScaleOpsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddRls();
        builder.Services.TryAddSingleton(sp => new RlsDbCommandInterceptor(
            sp.GetRequiredService<ITenantContext>(), sp.GetRequiredService<TenantContextCommand>(), sp.GetRequiredService<TenantRouter>()));
        return builder;
    }
}
