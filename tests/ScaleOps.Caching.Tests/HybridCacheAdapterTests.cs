using System;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Hybrid;
using ScaleOps.Caching.Tests.Support;

namespace ScaleOps.Caching.Tests;

/// <summary>Code written against Microsoft's <see cref="HybridCache"/> becomes tenant-scoped.</summary>
public sealed class HybridCacheAdapterTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    [Fact]
    public async Task HybridCache_calls_are_scoped_by_the_ambient_tenant()
    {
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("hybrid", "scoped"));
        HybridCache hybrid = node.Hybrid;
        using (node.As("acme"))
        {
            Assert.Equal("acme's", await hybrid.GetOrCreateAsync("orders", _ => ValueTask.FromResult("acme's")));
            Assert.Equal("acme's", await hybrid.GetOrCreateAsync("orders", _ => ValueTask.FromResult("recomputed")));
        }

        using (node.As("globex"))
        {
            Assert.Equal("globex's", await hybrid.GetOrCreateAsync("orders", _ => ValueTask.FromResult("globex's")));
            await hybrid.SetAsync("profile", "g");
            await hybrid.RemoveAsync("orders");
            Assert.Equal("again", await hybrid.GetOrCreateAsync("orders", _ => ValueTask.FromResult("again")));
        }

        using (node.As("acme"))
        {
            Assert.Equal("acme's", await hybrid.GetOrCreateAsync("orders", _ => ValueTask.FromResult("recomputed")));
            Assert.False((await node.Cache.TryGetAsync<string>("profile")).HasValue);
        }
    }

    [Fact]
    public async Task Tags_options_and_the_wildcard_tag_map_onto_the_tenant_cache()
    {
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("hybrid", "tags"));
        using var scope = node.As("acme");
        var options = new HybridCacheEntryOptions { Expiration = TimeSpan.FromMinutes(1), LocalCacheExpiration = TimeSpan.FromSeconds(30) };
        await node.Hybrid.GetOrCreateAsync("a", _ => ValueTask.FromResult(1), options, ["reports"]);
        await node.Hybrid.GetOrCreateAsync("b", _ => ValueTask.FromResult(2), options);
        await node.Hybrid.RemoveByTagAsync("reports");
        Assert.False((await node.Cache.TryGetAsync<int>("a")).HasValue);
        Assert.Equal(2, (await node.Cache.TryGetAsync<int>("b")).Value);

        await node.Hybrid.RemoveByTagAsync("*");
        Assert.False((await node.Cache.TryGetAsync<int>("b")).HasValue);
    }
}
