using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;

namespace ScaleOps.SampleHost.Http;

/// <summary>
/// Headers on every response under <c>/ops</c> and <c>/tenants</c> (the operator's surface), errors included: never stored
/// by a browser or a shared proxy (they hold other tenants' ids, job errors and the service's internals), never sniffed
/// as another content type, never framed, and no referrer sent on from the dashboard.
/// </summary>
public static class OperatorHeaders
{
    public static IApplicationBuilder UseOperatorHeaders(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/ops") || path.StartsWithSegments("/tenants"))
        {
            // On starting, so the exception handler's clearing of the response does not lose them.
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                headers.CacheControl = "no-store";
                headers.Pragma = "no-cache";
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                return Task.CompletedTask;
            });
        }

        await next(context);
    });
}
