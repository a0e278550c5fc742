using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Hybrid;
using ScaleOps.Caching.Internal;
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

    [Fact]
    public async Task HybridCache_reads_another_instances_value_from_Redis_also_through_a_decorated_tenant_cache()
    {
        var prefix = Unique.Prefix("hybrid", "redis");
        await using var writer = CacheNode.Create(redis.ConnectionString, prefix);
        await using var reader = CacheNode.Create(redis.ConnectionString, prefix);
        var redisOnly = new HybridCacheEntryOptions { Flags = HybridCacheEntryFlags.DisableLocalCacheWrite };
        Func<CancellationToken, ValueTask<string>> notExpected = _ => throw new InvalidOperationException("The factory ran: not a Redis hit.");
        using var scope = reader.As("acme");
        using (writer.As("acme"))
        {
            await writer.Hybrid.SetAsync("doc", "written");
        }

        // The built-in cache answers the value itself; a decorated ITenantCache goes through its entry API.
        var decorated = new TenantHybridCache(new Forwarding(reader.Cache));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("written", await reader.Hybrid.GetOrCreateAsync("doc", notExpected, redisOnly));
            Assert.Equal("written", await decorated.GetOrCreateAsync("doc", notExpected, redisOnly));
        }

        Assert.Equal(CacheSource.Redis, (await reader.Cache.GetOrSetEntryAsync("doc", notExpected, new CacheEntryOptions { LocalExpiration = TimeSpan.Zero })).Source);
    }

    /// <summary>A decorator an application might register: forwards every call.</summary>
    private sealed class Forwarding(ITenantCache inner) : ITenantCache
    {
        public ValueTask<CacheResult<T>> GetOrSetEntryAsync<TState, T>(
            string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, CacheEntryOptions? options = null,
            CancellationToken cancellationToken = default) =>
            inner.GetOrSetEntryAsync(key, state, factory, options, cancellationToken);

        public ValueTask<CacheResult<T>> TryGetAsync<T>(string key, CancellationToken cancellationToken = default) => inner.TryGetAsync<T>(key, cancellationToken);

        public ValueTask SetAsync<T>(string key, T value, CacheEntryOptions? options = null, CancellationToken cancellationToken = default) =>
            inner.SetAsync(key, value, options, cancellationToken);

        public ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => inner.RemoveAsync(key, cancellationToken);

        public ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default) => inner.RemoveByTagAsync(tag, cancellationToken);

        public ValueTask InvalidateTenantAsync(CancellationToken cancellationToken = default) => inner.InvalidateTenantAsync(cancellationToken);

        public CacheStatus GetStatus() => inner.GetStatus();
    }
}
