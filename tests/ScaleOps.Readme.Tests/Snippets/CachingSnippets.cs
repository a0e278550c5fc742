namespace ScaleOps.Readme.Tests.Snippets;

internal static class CachingSnippets
{
    public static void Register(WebApplicationBuilder builder)
    {
        #region readme src/ScaleOps.Caching/README.md 1
        builder.Services.AddScaleOps().AddCaching();          // Redis from ScaleOps:Caching:RedisConnectionString or ConnectionStrings:Redis
        #endregion
    }
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
