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
using ScaleOps.Jobs;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Rls.Safety;
using ScaleOps.SampleHost.Admin;
using ScaleOps.SampleHost.Http;
using ScaleOps.SampleHost.Limits;

namespace ScaleOps.SampleHost.Ops;

/// <summary><c>/ops/health</c> (open) and the admin-only operations endpoints.</summary>
public static class OpsEndpoints
{
    public static IEndpointRouteBuilder MapOpsEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapRead("/ops/health", HealthAsync);

        // The dashboard page itself holds no data: its script asks for the admin key and calls the /ops/* endpoints with it.
        routes.MapRead("/ops", (HttpContext http) =>
        {
            http.Response.Headers.ContentSecurityPolicy = DashboardPage.ContentSecurityPolicy;
            return TypedResults.Content(DashboardPage.Html, "text/html; charset=utf-8");
        });
        var ops = routes.MapGroup("/ops").AddEndpointFilter<AdminKeyFilter>();
        ops.MapRead("/migrations", MigrationsAsync);
        ops.MapRead("/rls", RlsAuditAsync);
        ops.MapRead("/partitions", PartitionsAsync);
        ops.MapRead("/jobs", JobsAsync);
        ops.MapPost("/jobs/{id:long}/retry", async (long id, IJobAdmin jobs, CancellationToken ct) =>
            await jobs.RetryDeadAsync(id, ct) ? Results.NoContent() : Problems.NotFound($"No dead job {id}."));
        ops.MapPost("/jobs/{id:long}/discard", async (long id, IJobAdmin jobs, CancellationToken ct) =>
            await jobs.DiscardDeadAsync(id, ct) ? Results.NoContent() : Problems.NotFound($"No dead job {id}."));
        ops.MapRead("/circuits", (CircuitBreakerRegistry breakers) => TypedResults.Ok(new
        {
            circuits = breakers.GetStatuses().Select(b => new { name = b.Name, state = b.State.ToString(), critical = b.Critical, changedAt = b.ChangedAt }),
        }));
        return routes;
    }

    /// <summary>
    /// Open to load balancers and probes: the status of each check. Its description (which can quote a dependency's error,
    /// naming internal endpoints) only with the admin key; a key sent here is a guess like anywhere else, so a wrong one
    /// counts against the address's budget, and a spent budget is a 429 (a request without the header is never refused).
    /// </summary>
    private static async Task<IResult> HealthAsync(HttpContext http, HealthCheckService health, IOptions<SampleOptions> options,
        ClientLimits limits, CancellationToken cancellationToken)
    {
        var detailed = false;
        if (http.Request.Headers.ContainsKey(AdminKeyFilter.Header))
        {
            var refusal = AdminKeyFilter.Refusal(http, options.Value, limits);
            if (refusal is { StatusCode: StatusCodes.Status429TooManyRequests })
            {
                return refusal;
            }

            detailed = refusal is null;
        }

        var report = await health.CheckHealthAsync(cancellationToken);
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => detailed
                    ? (object)new { status = e.Value.Status.ToString(), description = e.Value.Description }
                    : new { status = e.Value.Status.ToString() }),
        };
        return TypedResults.Json(body, statusCode: report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK);
    }

    private static async Task<IResult> JobsAsync(IJobAdmin jobs, CancellationToken cancellationToken)
    {
        var queues = await jobs.GetQueueStatsAsync(cancellationToken);
        var dead = await jobs.ListAsync(new JobQuery { State = JobState.Dead, Limit = 100 }, cancellationToken);
        return TypedResults.Ok(new
        {
            queues = queues.Select(q => new
            {
                queue = q.Queue, available = q.Available, scheduled = q.Scheduled, running = q.Running, succeeded = q.Succeeded,
                dead = q.Dead, cancelled = q.Cancelled, oldestWaitSeconds = q.OldestWait.TotalSeconds,
            }),
            dead = dead.Select(j => new
            {
                id = j.Id, queue = j.Queue, kind = j.Kind, tenant = j.Tenant?.Value, attempt = j.Attempt, lastError = j.LastError, finishedAt = j.FinishedAt,
            }),
        });
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
