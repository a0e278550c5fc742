using System;
using System.Linq;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps;
using ScaleOps.Partitioning;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Partitioning.Internal;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Partitioning.Migration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds ScaleOps.Partitioning: <c>services.AddScaleOps().AddPartitioning(...)</c>.</summary>
public static class PartitioningScaleOpsBuilderExtensions
{
    /// <summary>
    /// Registers partition maintenance (<see cref="IPartitionMaintenance"/>, run by a hosted service at start-up and on
    /// a schedule, one leader across hosts), verified archival (<see cref="IPartitionArchiver"/>) and the partitioned audit
    /// trail (<see cref="IAuditLog"/> and its schema migration). Options bind from <c>ScaleOps:Partitioning</c> and are
    /// validated at start-up. Calling it twice is harmless: the second call only applies <paramref name="configure"/>.
    /// </summary>
    /// <param name="builder">The ScaleOps builder.</param>
    /// <param name="configure">Optional code configuration, applied after the configuration section.</param>
    /// <returns>The same builder.</returns>
    public static IScaleOpsBuilder AddPartitioning(this IScaleOpsBuilder builder, Action<PartitioningOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        builder.AddScaleOpsOptions("Partitioning", configure);
        if (services.Any(d => d.ServiceType == typeof(PartitioningMarker)))
        {
            return builder;
        }

        services.AddSingleton<PartitioningMarker>();
        builder.AddMigrations("partitioning", typeof(PartitioningScaleOpsBuilderExtensions).Assembly, "ScaleOps.Partitioning.Sql.Migrations.");
        services.TryAddSingleton<PartitioningOptionsValidator>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PartitioningOptions>, PartitioningOptionsValidator>(
            sp => sp.GetRequiredService<PartitioningOptionsValidator>()));
        services.TryAddSingleton<PartitioningMetrics>();
        services.TryAddSingleton<PartitionStore>();
        services.TryAddSingleton<DdlRunner>();
        services.TryAddSingleton<GrantSync>();
        services.TryAddSingleton<RowSecuritySync>();
        services.TryAddSingleton<PartitionRemover>();
        services.TryAddSingleton<ArchiveBlobs>();
        services.TryAddSingleton<PartitionArchiver>();
        services.TryAddSingleton<IPartitionArchiver>(sp => sp.GetRequiredService<PartitionArchiver>());
        services.TryAddSingleton<PartitionMaintenance>();
        services.TryAddSingleton<IPartitionMaintenance>(sp => sp.GetRequiredService<PartitionMaintenance>());
        services.TryAddSingleton<AuditStore>();
        services.TryAddSingleton<AuditWriter>();
        services.TryAddSingleton<IAuditLog>(sp => sp.GetRequiredService<AuditWriter>());
        services.TryAddSingleton<TableMigrator>();
        services.TryAddSingleton<ITableMigrator>(sp => sp.GetRequiredService<TableMigrator>());
        // Maintenance first: the audit writer starts once the audit partitions exist.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MaintenanceHostedService>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, AuditWriter>(sp => sp.GetRequiredService<AuditWriter>()));
        return builder;
    }

    private sealed class PartitioningMarker;
}
