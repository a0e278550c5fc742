using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Rls.Safety;
using ScaleOps.SampleHost.Admin;

namespace ScaleOps.SampleHost.Ops;

/// <summary><c>/ops/health</c> (open) and the admin-only operations endpoints.</summary>
public static class OpsEndpoints
{
    public static IEndpointRouteBuilder MapOpsEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/ops/health", HealthAsync);
        var ops = routes.MapGroup("/ops").AddEndpointFilter<AdminKeyFilter>();
        ops.MapGet("/migrations", MigrationsAsync);
        ops.MapGet("/rls", RlsAuditAsync);
        ops.MapGet("/partitions", PartitionsAsync);
        return routes;
    }

    private static async Task<IResult> HealthAsync(HealthCheckService health, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(cancellationToken);
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return TypedResults.Json(body, statusCode: report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK);
    }

    private static async Task<IResult> PartitionsAsync(IPartitionMaintenance maintenance, CancellationToken cancellationToken)
    {
        var health = await maintenance.GetHealthAsync(cancellationToken);
        return TypedResults.Ok(new
        {
            tables = health.Select(h => new
            {
                table = h.Table,
                healthy = h.IsHealthy,
                missingFuturePartitions = h.MissingFuturePartitions,
                defaultPartitionRows = h.DefaultPartitionRows,
                partitionsPastRetention = h.PartitionsPastRetention,
                totalBytes = h.TotalBytes,
                partitions = h.Partitions,
                checkedAt = h.CheckedAt,
            }),
        });
    }

    private static async Task<IResult> RlsAuditAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var report = await RlsSchemaAuditor.AuditAsync(dataSource, "app", cancellationToken: cancellationToken);
        return TypedResults.Ok(new { schema = "app", clean = report.IsClean, unprotectedTables = report.UnprotectedTables, leakingViews = report.LeakingViews });
    }

    private static async Task<IResult> MigrationsAsync(NpgsqlDataSource dataSource, IOptions<ScaleOpsOptions> options, CancellationToken cancellationToken)
    {
        var table = SqlIdentifier.Qualify(options.Value.Schema, "schema_migrations");
        await using var command = dataSource.CreateCommand($"SELECT component, version, name, applied_at FROM {table} ORDER BY component, version");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var items = new List<object>();
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new { component = reader.GetString(0), version = reader.GetInt32(1), name = reader.GetString(2), appliedAt = reader.GetFieldValue<DateTimeOffset>(3) });
        }

        return TypedResults.Ok(new { items });
    }
}
