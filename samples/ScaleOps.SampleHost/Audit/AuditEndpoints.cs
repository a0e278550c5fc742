using System;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using ScaleOps.Partitioning.Audit;
using ScaleOps.SampleHost.Admin;
using ScaleOps.SampleHost.Http;
using ScaleOps.SampleHost.Limits;
using ScaleOps.SampleHost.Tenancy;

namespace ScaleOps.SampleHost.Audit;

/// <summary>
/// <c>GET /audit?from=&amp;to=</c>: the tenant's own events, newest first, at most <see cref="PageSize"/>, read from the
/// partitions of the range only; <c>truncated</c> is true when the range holds more.
/// </summary>
public static class AuditEndpoints
{
    public const int MaxDays = 93;

    /// <summary>The most events one response holds, newest first; <c>truncated</c> says when the range has more.</summary>
    public const int PageSize = 1000;

    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGroup("/audit").AddEndpointFilter<TenantFilter>().AddEndpointFilter<RateLimitFilter>().MapGet("", QueryAsync);

        // Operations: which partitions GET /audit reads for a range (EXPLAIN ANALYZE of the same statement).
        routes.MapGroup("/ops/audit").AddEndpointFilter<AdminKeyFilter>().AddEndpointFilter<TenantFilter>()
            .MapGet("/partitions", PartitionsReadAsync);
        return routes;
    }

    private static async Task<IResult> QueryAsync(HttpRequest request, IAuditLog audit, CancellationToken cancellationToken)
    {
        if (Range(request, out var from, out var to) is { } problem)
        {
            return problem;
        }

        // One more than a page: "truncated" tells the client the range holds more (newest first; narrow "to").
        var records = await audit.QueryAsync(from, to, limit: PageSize + 1, cancellationToken);
        return TypedResults.Ok(new
        {
            items = records.Take(PageSize).Select(r => new { action = r.Action, entityType = r.EntityType, entityId = r.EntityId, actorId = r.Actor, at = r.OccurredAt }),
            truncated = records.Count > PageSize,
        });
    }

    private static async Task<IResult> PartitionsReadAsync(HttpRequest request, IAuditLog audit, CancellationToken cancellationToken)
    {
        if (Range(request, out var from, out var to) is { } problem)
        {
            return problem;
        }

        var partitions = await audit.PartitionsReadAsync(from, to, cancellationToken);
        return TypedResults.Ok(new { from, to, partitions });
    }

    private static IResult? Range(HttpRequest request, out DateTimeOffset from, out DateTimeOffset to)
    {
        to = default;
        if (!TryParse(request, "from", out from, out var problem) || !TryParse(request, "to", out to, out problem))
        {
            return problem!;
        }

        if (to <= from)
        {
            return Problems.BadRequest("\"to\" must be after \"from\".");
        }

        if (to - from > TimeSpan.FromDays(MaxDays))
        {
            return Problems.BadRequest($"\"from\" and \"to\" must be at most {MaxDays} days apart.");
        }

        return null;
    }

    private static bool TryParse(HttpRequest request, string name, out DateTimeOffset value, out IResult? problem)
    {
        value = default;
        problem = null;
        var text = request.Query[name];
        if (text.Count != 1 || !DateTimeOffset.TryParse(text[0], CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value))
        {
            problem = Problems.BadRequest($"\"{name}\" is required: an ISO 8601 date or date and time, for example 2026-11-01T00:00:00Z.");
            return false;
        }

        return true;
    }
}
