using System;
using System.Globalization;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.SampleHost.Http;

namespace ScaleOps.SampleHost.Limits;

/// <summary>
/// The tenant's plan rate limit, shared by every instance through Redis (ScaleOps.Resilience). Runs after the tenant
/// filter; answers 429 with <c>Retry-After</c>, and tells the client its budget in <c>RateLimit-*</c> headers on every
/// answer, admitted or not. (ASP.NET Core's rate limiting middleware hands the lease only to <c>OnRejected</c>, so headers
/// on admitted requests need a filter like this one, which acquires the lease itself.)
/// </summary>
public sealed class RateLimitFilter(AmbientTenantRateLimiter limiter) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        using var lease = await limiter.AcquireAsync(1, http.RequestAborted);
        var headers = http.Response.Headers;
        if (lease.TryGetMetadata(RateLimitMetadata.Limit, out var limit))
        {
            headers["RateLimit-Limit"] = limit.ToString(CultureInfo.InvariantCulture);
        }

        if (lease.TryGetMetadata(RateLimitMetadata.Remaining, out var remaining))
        {
            headers["RateLimit-Remaining"] = remaining.ToString(CultureInfo.InvariantCulture);
        }

        if (lease.TryGetMetadata(RateLimitMetadata.Reset, out var reset))
        {
            headers["RateLimit-Reset"] = Seconds(reset);
        }

        if (lease.TryGetMetadata(RateLimitMetadata.Policy, out var policy) && policy is not null)
        {
            headers["RateLimit-Policy"] = policy;
        }

        if (lease.IsAcquired)
        {
            return await next(context);
        }

        // Every rejection of the limiter carries its Retry-After (the time until the tokens are back). A 429 always has
        // the header: one second only for a rejection without a time, which this limiter does not make.
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? Seconds(retry) : "1";
        headers.RetryAfter = retryAfter;
        return Problems.TooMany($"The plan's rate limit is reached; retry after {retryAfter} s.");
    }

    private static string Seconds(TimeSpan value) =>
        Math.Max(1, (long)Math.Ceiling(value.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
