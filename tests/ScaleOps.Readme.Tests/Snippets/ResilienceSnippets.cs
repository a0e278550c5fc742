namespace ScaleOps.Readme.Tests.Snippets;

internal static class ResilienceSnippets
{
    public static void Register(WebApplicationBuilder builder)
    {
        #region readme src/ScaleOps.Resilience/README.md 1
        builder.Services.AddSingleton<ITenantPlanResolver, MyPlanResolver>(); // tenant -> "free" | "pro" | ...
        builder.Services.AddScaleOps().AddResilience(o =>
        {
            o.DefaultPlan = "free";
            o.RateLimiting.Store = RateLimiterStore.Redis;              // shared by all instances
            o.RateLimiting.Plans["free"] = [new() { PermitLimit = 10, Window = TimeSpan.FromSeconds(1) },
                                           new() { PermitLimit = 1_000, Window = TimeSpan.FromDays(1) }];
            o.RateLimiting.Plans["pro"] = [new() { PermitLimit = 100, Window = TimeSpan.FromSeconds(1), Burst = 200 }];
            o.Quotas.Resources["documents"] = QuotaPeriod.None;
            o.Quotas.Resources["exports"] = QuotaPeriod.Month;
            o.Quotas.Plans["free"] = new() { ["documents"] = 100, ["exports"] = 5 };
        });
        #endregion
    }

    public static void UseRateLimiter(WebApplication app, RateLimiterOptions options)
    {
        #region readme src/ScaleOps.Resilience/README.md 2
        var tenantLimiter = app.Services.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenants = app.Services.GetRequiredService<ITenantContext>();
        // The ambient tenant, begun per request by your tenant middleware, which must run before UseRateLimiter. This limiter
        // requires a tenant: give tenant-less endpoints (health, metrics) a limiter of their own or none.
        options.GlobalLimiter = tenantLimiter.WithTranslatedKey<HttpContext>(_ => tenants.RequireTenant(), leaveOpen: true);
        options.OnRejected = (ctx, _) =>
        {
            if (ctx.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry))
                ctx.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString();
            return ValueTask.CompletedTask;
        };
        #endregion
    }

    public static async Task ReserveAsync(NpgsqlConnection connection, IQuotaService quotas, IJobClient jobs, Document doc, CancellationToken ct)
    {
        #region readme src/ScaleOps.Resilience/README.md 4
        await using var tx = await connection.BeginTransactionAsync(ct);
        await InsertDocumentAsync(connection, tx, doc, ct);
        await quotas.ReserveAsync("documents", 1, connection, tx, ct); // throws QuotaExceededException(Limit, Usage)
        await jobs.EnqueueAsync(connection, tx, new IndexDocument(doc.Id), null, ct);
        await tx.CommitAsync(ct);
        #endregion
    }

    public static void Degrade(IServiceCollection services)
    {
        #region readme src/ScaleOps.Resilience/README.md 5
        services.AddHealthChecks().AddCheck<CircuitBreakerHealthCheck>("circuit-breakers");
        services.AddFeatureManagement(); // the ScaleOps.Degradation filter is registered by AddResilience
        #endregion
    }

    public static async Task RetryAsync(CircuitBreakerRegistry registry, Document doc, CancellationToken ct)
    {
        #region readme src/ScaleOps.Resilience/README.md 6
        var pipeline = registry.GetPipeline(CircuitBreakerNames.Postgres, idempotent: true); // a read: retried
        var count = await pipeline.ExecuteAsync(async ct => await CountDocumentsAsync(ct), ct);
        await registry.GetPipeline(CircuitBreakerNames.Postgres)                             // a write: breaker only
            .ExecuteAsync(async ct => await InsertDocumentAsync(doc, ct), ct);
        #endregion
    }

    private static Task InsertDocumentAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Document doc, CancellationToken ct) => Task.CompletedTask;

    private static Task InsertDocumentAsync(Document doc, CancellationToken ct) => Task.CompletedTask;

    private static Task<long> CountDocumentsAsync(CancellationToken ct) => Task.FromResult(0L);
}

#region readme src/ScaleOps.Resilience/README.md 3
public sealed class RateLimitFilter(AmbientTenantRateLimiter limiter) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        using var lease = await limiter.AcquireAsync(1, http.RequestAborted);
        var headers = http.Response.Headers;
        if (lease.TryGetMetadata(RateLimitMetadata.Limit, out var limit)) headers["RateLimit-Limit"] = limit.ToString(CultureInfo.InvariantCulture);
        if (lease.TryGetMetadata(RateLimitMetadata.Remaining, out var left)) headers["RateLimit-Remaining"] = left.ToString(CultureInfo.InvariantCulture);
        if (lease.TryGetMetadata(RateLimitMetadata.Reset, out var reset)) headers["RateLimit-Reset"] = Seconds(reset);
        if (lease.TryGetMetadata(RateLimitMetadata.Policy, out var policy)) headers["RateLimit-Policy"] = policy;
        if (lease.IsAcquired) return await next(context);
        if (lease.TryGetMetadata(MetadataName.RetryAfter, out var retry)) headers.RetryAfter = Seconds(retry);
        return TypedResults.Problem("The plan's rate limit is reached.", statusCode: StatusCodes.Status429TooManyRequests);
    }

    private static string Seconds(TimeSpan t) => Math.Max(1, (long)Math.Ceiling(t.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
#endregion

internal sealed class MyPlanResolver : ITenantPlanResolver
{
    public ValueTask<string?> GetPlanAsync(TenantId tenant, CancellationToken cancellationToken) => new("free");
}
