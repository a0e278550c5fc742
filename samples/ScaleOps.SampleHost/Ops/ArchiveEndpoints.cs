using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.SampleHost.Admin;
using ScaleOps.SampleHost.Http;
using ScaleOps.SampleHost.Tenancy;

namespace ScaleOps.SampleHost.Ops;

/// <summary>Backfilled audit history: events from a legacy system, imported with their original time (demo-only endpoint).</summary>
public sealed record AuditBackfillInput(string? Tenant, DateTimeOffset? At, int? Count);

/// <summary>
/// Archival of a partition to Blob storage on demand (Parquet, verified, then the partition is removed), its manifest
/// read back from Blob storage, and its restore (<c>ArchiveEndpoints.Restore.cs</c>). Maintenance archives expired audit
/// partitions by itself when Blob storage is configured; these endpoints let an operator (or the demo) do it now.
/// </summary>
public static partial class ArchiveEndpoints
{
    /// <summary>The most events one backfill call writes.</summary>
    public const int MaxBackfill = 1000;

    public static IEndpointRouteBuilder MapArchiveEndpoints(this IEndpointRouteBuilder routes, bool demoEndpoints)
    {
        var ops = routes.MapGroup("/ops").AddEndpointFilter<AdminKeyFilter>();
        ops.MapPost("/partitions/{schema}/{table}/{partition}/archive", ArchiveAsync);
        ops.MapRead("/partitions/{schema}/{table}/{partition}/archive", ManifestAsync);
        ops.MapPost("/partitions/{schema}/{table}/{partition}/restore", RestoreAsync);
        if (demoEndpoints)
        {
            // Off unless Sample:DemoEndpoints is true: old audit events to archive exist only in a long-running service.
            ops.MapPost("/audit/backfill", BackfillAsync);
        }

        return routes;
    }

    private static async Task<IResult> ArchiveAsync(string schema, string table, string partition, IPartitionArchiver archiver,
        IPartitionMaintenance maintenance, IOptions<PartitioningOptions> options, IConfiguration configuration, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        if (NameProblem(schema, table, partition) is { } problem)
        {
            return problem;
        }

        if (string.IsNullOrWhiteSpace(options.Value.BlobConnectionString) && string.IsNullOrWhiteSpace(configuration.GetConnectionString("Blob")))
        {
            return Problems.Conflict("Blob storage is not configured (ConnectionStrings:Blob): nothing can be archived.");
        }

        try
        {
            // Not found is decided here, from what maintenance reports: the archiver's InvalidOperationException for it is
            // the same type other failures throw, and its message is meant for the log.
            if (await NotFoundAsync(schema, table, partition, archiver, maintenance, cancellationToken) is { } notFound)
            {
                return notFound;
            }

            return TypedResults.Ok(Describe(await archiver.ArchiveAsync(schema, table, partition, cancellationToken)));
        }
        catch (PartitionNotClosedException ex)
        {
            // It exists, but its period has not ended: archiving it now would remove the partition its writes go to.
            return Problems.Conflict(ex.Message);
        }
        catch (Exception ex) when (IsBlobFailure(ex))
        {
            // Nothing is removed unless the archive was verified: the partition is still in PostgreSQL.
            return BlobUnavailable(ex, loggers, schema, table, partition);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Anything else (the partition dropped meanwhile, an archive that no longer verifies, a dependency's own
            // error): a 500 that quotes nothing; the error goes to the log under the response's trace id.
            LogArchiveFailure(loggers.CreateLogger(typeof(ArchiveEndpoints).FullName!), schema, table, partition, ex);
            return Problems.InternalError("Archiving failed; the host's log has the error (under this response's traceId).");
        }
    }

    /// <summary>
    /// A 404 when <paramref name="table"/> is not a table this host maintains, or <paramref name="partition"/> is neither
    /// one of its partitions (in its schema) nor an archive to finish (removed from PostgreSQL after the archive was
    /// written); null when there is something to archive.
    /// </summary>
    private static async Task<IResult?> NotFoundAsync(string schema, string table, string partition, IPartitionArchiver archiver,
        IPartitionMaintenance maintenance, CancellationToken cancellationToken)
    {
        var qualified = SqlIdentifier.Qualify(schema, table);
        var maintained = (await maintenance.GetHealthAsync(cancellationToken)).FirstOrDefault(h => h.Table == qualified);
        if (maintained is null)
        {
            return Problems.NotFound($"{schema}.{table} is not a partitioned table this host maintains.");
        }

        if (maintained.Partitions.Any(p => p.Name == partition && p.Schema == schema)
            || await archiver.GetManifestAsync(schema, table, partition, cancellationToken) is not null)
        {
            return null;
        }

        return Problems.NotFound($"{schema}.{table} has no partition {partition}, and no archive of it to finish.");
    }

    private static bool IsBlobFailure(Exception ex) =>
        ex is Azure.RequestFailedException or System.Net.Http.HttpRequestException
        || (ex is AggregateException aggregate && aggregate.InnerExceptions.All(IsBlobFailure));

    private static readonly Action<ILogger, string, string, string, Exception?> LogArchiveFailure = LoggerMessage.Define<string, string, string>(
        LogLevel.Error, new EventId(2, "ArchiveFailed"), "Archiving {Schema}.{Table} partition {Partition} failed");

    private static readonly Action<ILogger, string, string, string, Exception?> LogBlobFailure = LoggerMessage.Define<string, string, string>(
        LogLevel.Error, new EventId(1, "ArchiveBlobUnavailable"), "Blob storage did not answer for {Schema}.{Table} partition {Partition}");

    /// <summary>
    /// A 503 whose detail names no storage endpoint or account (the client's error quotes both, and the host's address
    /// book is nobody's business): the error itself goes to the log, under the request's trace id.
    /// </summary>
    private static IResult BlobUnavailable(Exception ex, ILoggerFactory loggers, string schema, string table, string partition)
    {
        LogBlobFailure(loggers.CreateLogger(typeof(ArchiveEndpoints).FullName!), schema, table, partition, ex);
        return Problems.Unavailable("Blob storage did not answer; the host's log has the error (under this response's traceId).");
    }

    private static async Task<IResult> ManifestAsync(string schema, string table, string partition, IPartitionArchiver archiver,
        IOptions<PartitioningOptions> options, IConfiguration configuration, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (NameProblem(schema, table, partition) is { } problem)
        {
            return problem;
        }

        if (string.IsNullOrWhiteSpace(options.Value.BlobConnectionString) && string.IsNullOrWhiteSpace(configuration.GetConnectionString("Blob")))
        {
            return Problems.Conflict("Blob storage is not configured (ConnectionStrings:Blob): there are no archives.");
        }

        try
        {
            return await archiver.GetManifestAsync(schema, table, partition, cancellationToken) is { } manifest
                ? TypedResults.Ok(Describe(manifest))
                : Problems.NotFound($"{schema}.{table} partition {partition} has no archive.");
        }
        catch (Exception ex) when (IsBlobFailure(ex))
        {
            return BlobUnavailable(ex, loggers, schema, table, partition);
        }
    }

    private static IResult? NameProblem(string schema, string table, string partition)
    {
        foreach (var (what, name) in new[] { ("schema", schema), ("table", table), ("partition", partition) })
        {
            if (SqlIdentifier.Validate(name) is { } error)
            {
                return Problems.BadRequest($"The {what} name is not valid: {error}");
            }
        }

        return null;
    }

    private static object Describe(ArchiveManifest m) => new
    {
        schema = m.Schema, table = m.Table, partition = m.Partition, from = m.From, to = m.To, rows = m.Rows,
        rowChecksum = m.RowChecksum, fileSha256 = m.FileSha256, blob = m.Blob, archivedAt = m.ArchivedAt,
    };

    private static async Task<IResult> BackfillAsync(HttpRequest request, TenantDirectory directory, NpgsqlDataSource dataSource,
        IOptions<ScaleOpsOptions> scaleOps, CancellationToken cancellationToken)
    {
        var (input, problem) = await JsonBody.ReadAsync<AuditBackfillInput>(request);
        if (problem is not null)
        {
            return problem;
        }

        if (!TenantSlug.IsValid(input!.Tenant))
        {
            return Problems.BadRequest("\"tenant\" must be 1 to 63 lowercase letters, digits and dashes.");
        }

        if (input.At is not { } at)
        {
            return Problems.BadRequest("\"at\" is required: an ISO 8601 date and time, for example 2026-08-15T12:00:00Z.");
        }

        if (input.Count is not (>= 1 and <= MaxBackfill))
        {
            return Problems.BadRequest($"\"count\" must be 1 to {MaxBackfill}.", new Dictionary<string, object?> { ["max"] = MaxBackfill });
        }

        if (at < DateTimeOffset.UnixEpoch || at > DateTimeOffset.UtcNow.AddYears(100))
        {
            // Event ids are UUIDv7s of the event time, which start at the Unix epoch.
            return Problems.BadRequest("\"at\" must be between 1970-01-01T00:00:00Z and 100 years from now.");
        }

        if (await directory.FindAsync(input.Tenant!, cancellationToken) is null)
        {
            return Problems.NotFound($"Tenant '{input.Tenant}' is not registered.");
        }

        var auditLog = SqlIdentifier.Qualify(scaleOps.Value.Schema, "audit_log");
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var batch = new NpgsqlBatch(connection, tx);
        await using (batch)
        {
            for (var i = 0; i < input.Count; i++)
            {
                var occurredAt = at.AddMilliseconds(i);
                var command = new NpgsqlBatchCommand(
                    $"INSERT INTO {auditLog} (id, occurred_at, tenant_id, action, entity_type, entity_id) VALUES ($1, $2, $3, $4, $5, $6)");
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = Guid.CreateVersion7(occurredAt) });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = occurredAt.ToUniversalTime() });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = input.Tenant! });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "legacy.imported" });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "document" });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"legacy-{i + 1}" });
                batch.BatchCommands.Add(command);
            }

            try
            {
                await batch.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.CheckViolation)
            {
                // "no partition of relation ... found for row": the audit trail has no partition for that month.
                return Problems.Conflict($"No audit partition covers {at:O}: partitions exist only for the months maintenance created.");
            }
        }

        await tx.CommitAsync(cancellationToken);
        return TypedResults.Created((string?)null, new { tenant = input.Tenant, at = at.ToUniversalTime(), count = input.Count });
    }
}
