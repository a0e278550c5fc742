using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using ScaleOps.SampleHost.Http;
using ScaleOps.SampleHost.Tenancy;

namespace ScaleOps.SampleHost.Documents;

/// <summary>The tenant-scoped document API. Another tenant's document is 404, never 403.</summary>
public static class DocumentEndpoints
{
    public static IEndpointRouteBuilder MapDocumentEndpoints(this IEndpointRouteBuilder routes)
    {
        var documents = routes.MapGroup("/documents").AddEndpointFilter<TenantFilter>();
        documents.MapPost("", CreateAsync);
        documents.MapGet("", ListAsync);
        documents.MapGet("/{id}", GetAsync);
        documents.MapPut("/{id}", UpdateAsync);
        documents.MapDelete("/{id}", DeleteAsync);
        return routes;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, DocumentStore store, CancellationToken cancellationToken)
    {
        var (input, problem) = await JsonBody.ReadAsync<DocumentInput>(request);
        if (problem is not null)
        {
            return problem;
        }

        if (input!.Problem() is { } invalid)
        {
            return Problems.BadRequest(invalid);
        }

        var document = await store.CreateAsync(input, cancellationToken);
        return TypedResults.Created($"/documents/{document.Id}", document);
    }

    private static async Task<IResult> ListAsync(HttpContext http, DocumentStore store, CancellationToken cancellationToken)
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

        var page = await store.ListAsync(limit, afterCreatedAt, afterId, cancellationToken);
        http.Response.Headers["X-Cache"] = "miss";
        return TypedResults.Ok(page);
    }

    private static async Task<IResult> GetAsync(string id, HttpContext http, DocumentStore store, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var documentId))
        {
            return Problems.NotFound($"No document '{id}'.");
        }

        var document = await store.GetAsync(documentId, cancellationToken);
        http.Response.Headers["X-Cache"] = "miss";
        return document is null ? Problems.NotFound($"No document '{id}'.") : TypedResults.Ok(document);
    }

    private static async Task<IResult> UpdateAsync(string id, HttpRequest request, DocumentStore store, CancellationToken cancellationToken)
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
        return document is null ? Problems.NotFound($"No document '{id}'.") : TypedResults.Ok(document);
    }

    private static async Task<IResult> DeleteAsync(string id, DocumentStore store, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var documentId) || !await store.DeleteAsync(documentId, cancellationToken))
        {
            return Problems.NotFound($"No document '{id}'.");
        }

        return TypedResults.NoContent();
    }
}
