namespace ScaleOps.Readme.Tests.Snippets;

internal static class CachingSnippets
{
    public static void Register(WebApplicationBuilder builder)
    {
        #region readme src/ScaleOps.Caching/README.md 1
        builder.Services.AddScaleOps().AddCaching();          // Redis from ScaleOps:Caching:RedisConnectionString or ConnectionStrings:Redis
        #endregion
    }

    public static async Task EagerRefreshAsync(WebApplicationBuilder builder, ITenantCache cache)
    {
        #region readme src/ScaleOps.Caching/README.md 3
        // 0.8 of 10 minutes: from minute 8 on, a hit answers the cached value at once and refreshes it in the background.
        builder.Services.AddScaleOps().AddCaching(o => o.EagerRefreshThreshold = 0.8);
        var rates = await cache.GetOrSetAsync("fx:rates", LoadRatesAsync, new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10) });
        var audit = await cache.GetOrSetAsync("audit:last", LoadAuditAsync, new CacheEntryOptions { EagerRefreshThreshold = 0 }); // off for this call
        #endregion
        _ = (rates, audit);
    }

    private static ValueTask<decimal[]> LoadRatesAsync(CancellationToken ct) => ValueTask.FromResult(new[] { 1.08m });

    private static ValueTask<string> LoadAuditAsync(CancellationToken ct) => ValueTask.FromResult("none");
}

#region readme src/ScaleOps.Caching/README.md 2
public sealed class DocumentList(ITenantCache cache, DocumentStore store)
{
    private static readonly CacheEntryOptions Lists = new() { Expiration = TimeSpan.FromMinutes(2), Tags = ["documents"] };

    // Inside a tenant scope: the job runner begins it for each job; in a web app, your tenant middleware or endpoint
    // filter begins it per request (the sample host's Tenancy/TenantFilter.cs shows one).
    public async Task<(IReadOnlyList<Document> Items, bool Hit)> GetAsync(CancellationToken ct)
    {
        var entry = await cache.GetOrSetEntryAsync("documents:list", async ct => await store.ListAsync(ct), Lists, ct);
        return (entry.Value, entry.IsHit);                 // IsHit for an X-Cache: HIT/MISS header
    }

    public ValueTask OnDocumentWrittenAsync(CancellationToken ct) => cache.RemoveByTagAsync("documents", ct);
}
#endregion
