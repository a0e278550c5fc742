using System;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps;
using ScaleOps.Data;
using ScaleOps.Rls;
using ScaleOps.Rls.Internal;
using ScaleOps.Rls.Internal.Validators;
using ScaleOps.Tenancy;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds ScaleOps.Rls: <c>services.AddScaleOps(...).AddRls(...)</c>.</summary>
public static class RlsScaleOpsBuilderExtensions
{
    /// <summary>
    /// Registers row-level security tenant isolation: replaces the core's <see cref="ITenantDataSource"/> with one that
    /// sends the ambient tenant (and user and roles) to PostgreSQL with every batch and transaction, routes reads to
    /// replicas and placed tenants to their shard; adds the tenant context procedure (migration <c>rls</c>), the
    /// <see cref="RlsPolicyManager"/>, <see cref="RlsBypass"/>, and the start-up policy application and safety checks
    /// (EF Core: <c>AddRlsEntityFrameworkCore</c> in ScaleOps.Rls.EntityFrameworkCore). Calling it twice is harmless.
    /// </summary>
    /// <param name="builder">The ScaleOps builder.</param>
    /// <param name="configure">Optional code configuration (declare <see cref="RlsOptions.Tables"/> here).</param>
    /// <returns>The same builder.</returns>
    public static IScaleOpsBuilder AddRls(this IScaleOpsBuilder builder, Action<RlsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddScaleOpsOptions("Rls", configure);
        builder.AddMigrations("rls", typeof(RlsOptions).Assembly, RlsSql.MigrationPrefix);

        var services = builder.Services;
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RlsOptions>, RlsOptionsValidator>());
        services.TryAddSingleton<RlsMetrics>();
        services.TryAddSingleton(sp => new TenantContextCommand(sp.GetRequiredService<IOptions<ScaleOpsOptions>>().Value.Schema));
        services.TryAddSingleton<TenantRouter>();
        services.Replace(ServiceDescriptor.Singleton<ITenantDataSource, RlsTenantDataSource>());
        services.TryAddSingleton(sp => new RlsPolicyManager(
            sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<IOptions<RlsOptions>>(), sp.GetRequiredService<ILogger<RlsPolicyManager>>(),
            sp.GetRequiredService<IOptions<ScaleOpsOptions>>().Value.MigrationTimeout, sp.GetService<TimeProvider>()));
        services.TryAddSingleton(sp => new RlsBypass(
            sp.GetRequiredService<IOptions<RlsOptions>>(), sp.GetRequiredService<ITenantContext>(),
            sp.GetRequiredService<ILogger<RlsBypass>>(), sp.GetRequiredService<RlsMetrics>(),
            sp.GetRequiredService<IOptions<ScaleOpsOptions>>().Value, sp.GetRequiredService<ILoggerFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RlsStartup>());
        return builder;
    }
}
