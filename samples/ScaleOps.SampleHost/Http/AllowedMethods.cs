using System;
using System.Linq;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ScaleOps.SampleHost.Http;

/// <summary>
/// The methods a resource answers: every read (GET) answers HEAD too (RFC 9110 9.3.2: the same answer without the body),
/// OPTIONS of an existing path is a 204 whose <c>Allow</c> lists its methods, and a 405 lists them in <c>Allow</c>
/// (routing sets it; OPTIONS is added here). A path that does not exist stays 404 for every method.
/// </summary>
public static class AllowedMethods
{
    private static readonly string[] GetAndHead = [HttpMethods.Get, HttpMethods.Head];

    /// <summary>Maps a read: GET and HEAD (the server sends no body to HEAD).</summary>
    public static RouteHandlerBuilder MapRead(this IEndpointRouteBuilder routes, string pattern, Delegate handler) =>
        routes.MapMethods(pattern, GetAndHead, handler);

    /// <summary>Limits an endpoint mapped for every method (the Prometheus scraping endpoint) to GET and HEAD.</summary>
    public static TBuilder ReadOnly<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new HttpMethodMetadata(GetAndHead));

    /// <summary>
    /// Runs inside the status code pages (so a 405 still gets its problem body, and an answered OPTIONS none): on routing's
    /// 405, adds OPTIONS to <c>Allow</c>, and turns the 405 of an OPTIONS request into a 204.
    /// </summary>
    public static IApplicationBuilder UseAllowedMethods(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        await next(context);
        var response = context.Response;
        if (response.StatusCode != StatusCodes.Status405MethodNotAllowed || response.HasStarted || response.Headers.Allow.Count == 0)
        {
            return;
        }

        response.Headers.Allow = string.Join(", ", response.Headers.Allow.ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Append(HttpMethods.Options).Distinct(StringComparer.OrdinalIgnoreCase));
        if (HttpMethods.IsOptions(context.Request.Method))
        {
            response.StatusCode = StatusCodes.Status204NoContent;
        }
    });
}
