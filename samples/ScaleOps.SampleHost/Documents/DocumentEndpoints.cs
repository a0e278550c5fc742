using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using ScaleOps.Caching;
using ScaleOps.Resilience.Quotas;
using ScaleOps.SampleHost.Audit;
using ScaleOps.SampleHost.Limits;
using ScaleOps.SampleHost.Http;
using ScaleOps.SampleHost.Tenancy;

namespace ScaleOps.SampleHost.Documents;

/// <summary>The tenant-scoped document API. Another tenant's document is 404, never 403.</summary>
public static class DocumentEndpoints
{
    public static IEndpointRouteBuilder MapDocumentEndpoints(this IEndpointRouteBuilder routes)
    {
        var documents = routes.MapGroup("/documents").AddEndpointFilter<TenantFilter>().AddEndpointFilter<RateLimitFilter>();
        documents.MapPost("", CreateAsync);
        documents.MapRead("", ListAsync);
        documents.MapRead("/stats", StatsAsync);
        documents.MapRead("/{id}", GetAsync);
        documents.MapPut("/{id}", UpdateAsync);
        documents.MapDelete("/{id}", DeleteAsync);
        documents.MapPost("/reindex", ReindexAsync);
        return routes;
    }

    /// <summary>
    /// Re-indexes every document of the tenant in the background: one batch of low-priority jobs, for the documents that
    /// are not waiting for an index job already (<see cref="DocumentStore.ReindexAllAsync"/>).
    /// </summary>
    private static async Task<IResult> ReindexAsync(HttpContext http, DocumentStore store, DocumentAudit audit, ITenantCache cache,
        CancellationToken cancellationToken)
    {
        var enqueued = await store.ReindexAllAsync(cancellationToken);
        await AfterCommitAsync(http, cache, audit, "documents.reindexed", null, new { enqueued });
        return TypedResults.Accepted((string?)null, new { enqueued });
    }

    /// <summary>
    /// What follows a committed write: the tenant's cached reads are dropped (on every instance) and the audit event is
    /// written. Never with the request's token: a client that goes away after the commit would otherwise cancel both,
    /// leaving a deleted or changed document served from the cache and a committed write without its audit entry.
    /// Bounded by a timeout of its own instead (the audit writer waits for room when PostgreSQL is slow).
    /// </summary>
    private static async Task AfterCommitAsync(HttpContext http, ITenantCache cache, DocumentAudit audit, string action, Guid? documentId,
        object? changes)
    {
        using var timeout = new CancellationTokenSource(AfterCommitTimeout);
        await cache.RemoveByTagAsync(DocumentsTag, timeout.Token);
        await audit.WriteAsync(http, action, documentId, changes, timeout.Token);
    }

    private static readonly TimeSpan AfterCommitTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>POST /documents</c>, with an optional <see cref="IdempotencyKey.Header"/>: a retry of a create whose answer was
    /// lost (same key, same title and body, within <see cref="DocumentStore.KeyRetention"/>) answers 201 with the document
    /// that create made (as it is now) and <c>Idempotent-Replayed: true</c>, creating nothing and reserving no quota;
    /// the key with another title or body is a 422, and a retry after that document was deleted a 409. A request that
    /// failed (400, 403 over the quota, 5xx) left no key: its retry runs again.
    /// </summary>
    private static async Task<IResult> CreateAsync(HttpRequest request, DocumentStore store, DocumentAudit audit, ITenantCache cache,
        CancellationToken cancellationToken)
    {
        var key = IdempotencyKey.Read(request, out var keyProblem);
        if (keyProblem is not null)
        {
            return Problems.BadRequest(keyProblem);
        }

        var (input, problem) = await JsonBody.ReadAsync<DocumentInput>(request);
        if (problem is not null)
        {
            return problem;
        }

        if (input!.Problem() is { } invalid)
        {
            return Problems.BadRequest(invalid);
        }

        CreateResult result;
        try
        {
            result = await store.CreateAsync(input, key, cancellationToken);
        }
        catch (QuotaExceededException ex)
        {
            return Problems.Forbidden($"The plan allows {ex.Limit} {ex.Resource}; {ex.Usage} are in use.",
                new Dictionary<string, object?> { ["limit"] = ex.Limit, ["usage"] = ex.Usage });
        }

        switch (result.Outcome)
        {
            case CreateOutcome.KeyUsedForAnotherRequest:
                return Problems.UnprocessableContent(
                    $"This {IdempotencyKey.Header} was used for another request (another title or body); send a new key for a new document.");
            case CreateOutcome.DocumentDeleted:
                return Problems.Conflict(
                    $"This {IdempotencyKey.Header} created document '{result.DocumentId}', which has been deleted since; send a new key to create another.");
            case CreateOutcome.Replayed:
                // Nothing was written, but the request that created it may have stopped (its instance with it) between its
                // commit and its cache invalidation: dropping the tenant's cached reads again costs little and closes that.
                await DropCachedReadsAsync(cache);
                request.HttpContext.Response.Headers[IdempotencyKey.ReplayedHeader] = "true";
                return TypedResults.Created($"/documents/{result.DocumentId}", result.Document);
            default:
                var document = result.Document!;
                await AfterCommitAsync(request.HttpContext, cache, audit, "document.created", document.Id, new { title = document.Title });
                return TypedResults.Created($"/documents/{document.Id}", document);
        }
    }

    /// <summary>Drops the tenant's cached document reads (on every instance), bounded like <see cref="AfterCommitAsync"/>.</summary>
    private static async Task DropCachedReadsAsync(ITenantCache cache)
    {
        using var timeout = new CancellationTokenSource(AfterCommitTimeout);
        await cache.RemoveByTagAsync(DocumentsTag, timeout.Token);
    }

    /// <summary>
    /// Five minutes in Redis, at most ten seconds in an instance's memory: while Redis is down, an instance cannot hear
    /// another's invalidation, and this bounds how long it serves a copy that was changed or deleted elsewhere.
    /// </summary>
    private static readonly CacheEntryOptions CachedDocuments = new()
    {
        Expiration = TimeSpan.FromMinutes(5),
        LocalExpiration = TimeSpan.FromSeconds(10),
        Tags = [DocumentsTag],
    };

    /// <summary>Every cached read of a tenant's documents carries this tag; a write removes them all (on every instance).</summary>
    public const string DocumentsTag = "documents";

    private static async Task<IResult> ListAsync(HttpContext http, DocumentStore store, ITenantCache cache, CancellationToken cancellationToken)
    {
        var query = http.Request.Query;
        var limit = 20;
        if (query.TryGetValue("limit", out var limitText)
            && (limitText.Count != 1 || !int.TryParse(limitText[0], NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 100))
        {
            return Problems.BadRequest("\"limit\" must be a whole number from 1 to 100.");
        }

        DateTimeOffset? afterCreatedAt = null;
        Guid? afterId = null;
        if (query.TryGetValue("cursor", out var cursorText))
        {
            if (cursorText.Count != 1 || !Cursor.TryDecode(cursorText[0], out var createdAt, out var id))
            {
                return Problems.BadRequest("\"cursor\" is not a cursor this API returned.");
            }

            (afterCreatedAt, afterId) = (createdAt, id);
        }

        // Only first pages are cached: one key per limit. A cursor is any position the client names (not only one this API
        // returned), so a page per cursor would let one tenant fill the Redis every tenant shares with pages of up to
        // ScaleOps:Caching:MaxPayloadBytes each. A page after a cursor is a keyset read on the tenant's index.
        if (afterId is not null)
        {
            http.Response.Headers["X-Cache"] = "miss";
            return TypedResults.Ok(await store.ListAsync(limit, afterCreatedAt, afterId, cancellationToken));
        }

        try
        {
            var page = await cache.GetOrSetEntryAsync($"documents:list:{limit}:", (store, limit),
                static (s, ct) => new ValueTask<DocumentPage>(s.store.ListAsync(s.limit, null, null, ct)), CachedDocuments, cancellationToken);
            http.Response.Headers["X-Cache"] = page.IsHit ? "hit" : "miss";
            return TypedResults.Ok(page.Value);
        }
        catch (CacheSerializationException)
        {
            // Larger than the cache takes (up to 100 bodies of 64 KiB against MaxPayloadBytes): answered without it.
            http.Response.Headers["X-Cache"] = "miss";
            return TypedResults.Ok(await store.ListAsync(limit, null, null, cancellationToken));
        }
    }

    /// <summary>
    /// The count a dashboard polls: fresh for 4 seconds, with eager refresh at half of that (ScaleOps.Caching's
    /// <see cref="CacheEntryOptions.EagerRefreshThreshold"/>): a read in the second half of the 4 seconds answers from the
    /// cache at once and counts again in the background, so while the count is read often no read waits for the count.
    /// Tagged like the documents: a write drops it.
    /// </summary>
    public static readonly CacheEntryOptions CachedStats = new()
    {
        Expiration = TimeSpan.FromSeconds(4),
        EagerRefreshThreshold = 0.5,
        Tags = [DocumentsTag],
    };

    private static async Task<IResult> StatsAsync(HttpContext http, DocumentStore store, ITenantCache cache, CancellationToken cancellationToken)
    {
        var entry = await cache.GetOrSetEntryAsync("documents:stats", store,
            static (s, ct) => new ValueTask<DocumentStats>(s.CountAsync(ct)), CachedStats, cancellationToken);
        http.Response.Headers["X-Cache"] = entry.IsHit ? "hit" : "miss";
        return TypedResults.Ok(entry.Value);
    }

    private static async Task<IResult> GetAsync(string id, HttpContext http, DocumentStore store, ITenantCache cache, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var documentId))
        {
            return Problems.NotFound($"No document '{id}'.");
        }

        var entry = await cache.GetOrSetEntryAsync($"documents:{documentId}", (store, documentId),
            static (s, ct) => new ValueTask<Document?>(s.store.GetAsync(s.documentId, ct)), CachedDocuments, cancellationToken);
        http.Response.Headers["X-Cache"] = entry.IsHit ? "hit" : "miss";
        return entry.Value is null ? Problems.NotFound($"No document '{id}'.") : TypedResults.Ok(entry.Value);
    }

    private static async Task<IResult> UpdateAsync(string id, HttpRequest request, DocumentStore store, DocumentAudit audit,
        ITenantCache cache, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var documentId))
        {
            return Problems.NotFound($"No document '{id}'.");
        }

        var (input, problem) = await JsonBody.ReadAsync<DocumentInput>(request);
        if (problem is not null)
        {
            return problem;
        }

        if (input!.Problem() is { } invalid)
        {
            return Problems.BadRequest(invalid);
        }

        var document = await store.UpdateAsync(documentId, input, cancellationToken);
        if (document is null)
        {
            return Problems.NotFound($"No document '{id}'.");
        }

        await AfterCommitAsync(request.HttpContext, cache, audit, "document.updated", document.Id, new { title = document.Title });
        return TypedResults.Ok(document);
    }

    private static async Task<IResult> DeleteAsync(string id, HttpContext http, DocumentStore store, DocumentAudit audit, ITenantCache cache,
        CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var documentId) || !await store.DeleteAsync(documentId, cancellationToken))
        {
            return Problems.NotFound($"No document '{id}'.");
        }

        await AfterCommitAsync(http, cache, audit, "document.deleted", documentId, null);
        return TypedResults.NoContent();
    }
}
