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
using ScaleOps.SampleHost.Documents;
using ScaleOps.SampleHost.Http;
using ScaleOps.SampleHost.Limits;
using ScaleOps.SampleHost.Tenancy;

namespace ScaleOps.SampleHost.Audit;

/// <summary>
/// <c>GET /audit?from=&amp;to=[&amp;after=]</c>: the tenant's own events, newest first, at most <see cref="PageSize"/>, read
/// from the partitions of the range only; <c>truncated</c> is true when the range holds more, and <c>next</c> is then the
/// <c>after</c> of the next page.
/// </summary>
public static class AuditEndpoints
{
    public const int MaxDays = 93;

    /// <summary>The most events one response holds, newest first; <c>truncated</c> says when the range has more.</summary>
    public const int PageSize = 1000;

    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGroup("/audit").AddEndpointFilter<TenantFilter>().AddEndpointFilter<RateLimitFilter>().MapRead("", QueryAsync);

        // Operations: which partitions GET /audit reads for a range (EXPLAIN ANALYZE of the same statement).
        routes.MapGroup("/ops/audit").AddEndpointFilter<AdminKeyFilter>().AddEndpointFilter<TenantFilter>()
            .MapRead("/partitions", PartitionsReadAsync);
        return routes;
    }

    private static async Task<IResult> QueryAsync(HttpRequest request, IAuditLog audit, CancellationToken cancellationToken)
    {
        if (Range(request, out var from, out var to) is { } problem)
        {
            return problem;
        }

        var after = request.Query["after"];
        AuditPosition? position = null;
        if (after.Count > 0)
        {
            if (after.Count != 1 || !Cursor.TryDecode(after[0], out var at, out var id))
            {
                return Problems.BadRequest("\"after\" must be the \"next\" value of the previous page.");
            }

            position = new AuditPosition(at, id);
        }

        // One more than a page: "truncated" tells the client the range holds more, and "next" where the next page starts
        // (events of one time may straddle pages: narrowing "to" to the last one's time would skip the rest of them).
        var records = position is { } p
            ? await audit.QueryAfterAsync(from, to, p, limit: PageSize + 1, cancellationToken)
            : await audit.QueryAsync(from, to, limit: PageSize + 1, cancellationToken);
        var page = records.Take(PageSize).ToList();
        var truncated = records.Count > PageSize;
        return TypedResults.Ok(new
        {
            items = page.Select(r => new { action = r.Action, entityType = r.EntityType, entityId = r.EntityId, actorId = r.Actor, at = r.OccurredAt }),
            truncated,
            next = truncated ? Cursor.Encode(page[^1].OccurredAt, page[^1].Id) : null,
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
