using System;
using System.Linq;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps;
using ScaleOps.Data;
using ScaleOps.Diagnostics;
using ScaleOps.Internal;
using ScaleOps.Internal.Validators;
using ScaleOps.Migrations;
using ScaleOps.Tenancy;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The entry point of ScaleOps: <c>services.AddScaleOps(...)</c>.</summary>
public static class ScaleOpsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the ScaleOps core: options bound from the <c>ScaleOps</c> configuration section and validated at
    /// start-up, the shared <see cref="NpgsqlDataSource"/> (unless the host registered one before this call), the
    /// ambient <see cref="ITenantContext"/>, the tenant-scoped <see cref="ITenantDataSource"/> (plain; <c>AddRls</c> replaces it), the <c>ScaleOps</c> meter, <see cref="TimeProvider"/>, the
    /// <see cref="DatabaseClock"/> and the schema migration runner. Calling it twice is harmless: the second call only applies <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Optional code configuration, applied after the configuration section.</param>
    /// <returns>The builder that the packages' <c>Add*</c> methods extend.</returns>
    public static IScaleOpsBuilder AddScaleOps(this IServiceCollection services, Action<ScaleOpsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        var builder = services.FirstOrDefault(d => d.ServiceType == typeof(ScaleOpsBuilder))?.ImplementationInstance as ScaleOpsBuilder;
        if (builder is null)
        {
            builder = new ScaleOpsBuilder(services);
            services.AddSingleton(builder);
            RegisterCore(builder);
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    private static void RegisterCore(ScaleOpsBuilder builder)
    {
        var services = builder.Services;
        var hostProvidesDataSource = services.Any(d => d.ServiceType == typeof(NpgsqlDataSource));

        builder.BindOptions<ScaleOpsOptions>(sectionPath: ScaleOpsOptions.SectionName, strict: false);
        services.AddSingleton<IPostConfigureOptions<ScaleOpsOptions>>(sp => new ScaleOpsConnectionStringFallback(sp));
        services.AddSingleton<IValidateOptions<ScaleOpsOptions>>(sp =>
            new ScaleOpsOptionsValidator(sp, builder.Sections, hostProvidesDataSource));

        services.AddLogging(); // idempotent; the core's services log, and a bare ServiceCollection must still resolve them
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ITenantContext, AsyncLocalTenantContext>();
        services.AddMetrics();
        services.TryAddSingleton<ScaleOpsMetrics>();

        if (!hostProvidesDataSource)
        {
            services.TryAddSingleton(sp => BuildDataSource(sp));
        }

        // The tenant-scoped connection: plain by default; AddRls replaces it with the row-level security one.
        services.TryAddSingleton<ITenantDataSource, PlainTenantDataSource>();
        services.TryAddSingleton<IScaleOpsMigrator, MigrationRunner>();

        // The database's clock for times hosts share; its first measurement is taken while the host starts, after the
        // migrations (MigrationHostedService). Measured for the system clock (production); another TimeProvider is a
        // test's and is taken as the database's clock as it is (MeasuredDatabaseClock: the repository's skew tests).
        services.TryAddSingleton(sp =>
        {
            var time = sp.GetRequiredService<TimeProvider>();
            var measure = ReferenceEquals(time, TimeProvider.System) || sp.GetService<MeasuredDatabaseClock>() is not null;
            return new DatabaseClock(
                measure ? sp.GetRequiredService<NpgsqlDataSource>() : null, time, sp.GetRequiredService<ILoggerFactory>().CreateLogger<DatabaseClock>());
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MigrationHostedService>());
    }

    private static NpgsqlDataSource BuildDataSource(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<ScaleOpsOptions>>().Value;
        var dataSourceBuilder = new NpgsqlDataSourceBuilder(options.ConnectionString);
        dataSourceBuilder.UseLoggerFactory(services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance);
        options.ConfigureDataSource?.Invoke(dataSourceBuilder);
        return dataSourceBuilder.Build();
    }
}
