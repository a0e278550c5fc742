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

    private static HybridCacheEntryOptions With(HybridCacheEntryFlags flags) => new() { Flags = flags };

    [Fact]
    public async Task DisableUnderlyingData_reads_the_cache_only_and_never_runs_the_factory()
    {
        var prefix = Unique.Prefix("hybrid", "no-data");
        await using var writer = CacheNode.Create(redis.ConnectionString, prefix);
        await using var reader = CacheNode.Create(redis.ConnectionString, prefix);
        var runs = 0;
        Func<CancellationToken, ValueTask<string>> factory = _ =>
        {
            Interlocked.Increment(ref runs);
            return ValueTask.FromResult("from the factory");
        };
        using var scope = reader.As("acme");
        using (writer.As("acme"))
        {
            await writer.Cache.SetAsync("present", "cached");
        }

        var cacheOnly = With(HybridCacheEntryFlags.DisableUnderlyingData);
        Assert.Null(await reader.Hybrid.GetOrCreateAsync("absent", factory, cacheOnly));
        Assert.Equal(0, await reader.Hybrid.GetOrCreateAsync("absent-number", _ => ValueTask.FromResult(7), cacheOnly));
        Assert.Equal("cached", await reader.Hybrid.GetOrCreateAsync("present", factory, cacheOnly)); // from Redis
        Assert.Equal(0, runs);
        Assert.False((await reader.Cache.TryGetAsync<string>("absent")).HasValue); // nothing stored either
    }

    [Theory]
    [InlineData(HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableLocalCacheRead, "DisableUnderlyingData")]
    [InlineData(HybridCacheEntryFlags.DisableDistributedCacheRead, "DisableDistributedCacheRead")]
    [InlineData(HybridCacheEntryFlags.DisableDistributedCacheWrite, "DisableDistributedCacheWrite")]
    [InlineData(HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableDistributedCache, "DisableUnderlyingData")]
    [InlineData(HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableLocalCacheWrite, "DisableUnderlyingData")]
    public async Task A_read_flag_the_tenant_cache_cannot_honour_throws_naming_it(HybridCacheEntryFlags flags, string named)
    {
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("hybrid", "unsupported"));
        using var scope = node.As("acme");
        var runs = 0;
        var error = await Assert.ThrowsAsync<NotSupportedException>(async () =>
            await node.Hybrid.GetOrCreateAsync("k", _ => ValueTask.FromResult(Interlocked.Increment(ref runs)), With(flags)));
        Assert.Contains("HybridCacheEntryFlags." + named, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, runs);
    }

    [Fact]
    public async Task DisableLocalCacheRead_skips_the_memory_copy_and_DisableLocalCache_also_keeps_none()
    {
        var prefix = Unique.Prefix("hybrid", "no-local-read");
        await using var node = CacheNode.Create(redis.ConnectionString, prefix);
        await using var other = CacheNode.Create(redis.ConnectionString, prefix);
        using var scope = node.As("acme");
        var memoryOnly = new CacheEntryOptions { LocalOnly = true };
        await node.Cache.SetAsync("read-skipped", "in memory", memoryOnly);
        await node.Cache.SetAsync("none-kept", "in memory", memoryOnly);

        // Memory holds a copy Redis does not have: skipping it runs the factory (Redis misses).
        Assert.Equal("loaded", await node.Hybrid.GetOrCreateAsync("read-skipped", _ => ValueTask.FromResult("loaded"), With(HybridCacheEntryFlags.DisableLocalCacheRead)));
        Assert.Equal((CacheSource.Memory, "loaded"), ToTuple(await node.Cache.TryGetAsync<string>("read-skipped"))); // still written to memory

        Assert.Equal("loaded", await node.Hybrid.GetOrCreateAsync("none-kept", _ => ValueTask.FromResult("loaded"), With(HybridCacheEntryFlags.DisableLocalCache)));
        Assert.Equal("fresh", await node.Hybrid.GetOrCreateAsync("fresh-key", _ => ValueTask.FromResult("fresh"), With(HybridCacheEntryFlags.DisableLocalCache)));
        Assert.False(node.InMemory("acme", "fresh-key"));
        using (other.As("acme"))
        {
            Assert.Equal((CacheSource.Redis, "loaded"), ToTuple(await other.Cache.TryGetAsync<string>("none-kept")));
            await other.Cache.SetAsync("fresh-key", "changed in Redis");
        }

        // Every call reads Redis: another instance's write shows at once.
        Assert.Equal("changed in Redis", await node.Hybrid.GetOrCreateAsync("fresh-key", _ => ValueTask.FromResult("unexpected"), With(HybridCacheEntryFlags.DisableLocalCache)));
    }

    private static (CacheSource, T) ToTuple<T>(CacheResult<T> result) => (result.Source, result.Value);

    [Fact]
    public async Task Write_flags_keep_the_value_out_of_Redis_or_out_of_memory()
    {
        var prefix = Unique.Prefix("hybrid", "write-flags");
        await using var writer = CacheNode.Create(redis.ConnectionString, prefix);
        await using var reader = CacheNode.Create(redis.ConnectionString, prefix);
        using var scope = writer.As("acme");
        await reader.Cache.TryGetAsync<string>("warm-up"); // the reader learns the tenant's generation

        await writer.Hybrid.SetAsync("memory-only", "m", With(HybridCacheEntryFlags.DisableDistributedCacheWrite));
        await writer.Hybrid.SetAsync("redis-only", "r", With(HybridCacheEntryFlags.DisableLocalCacheWrite));
        await writer.Hybrid.SetAsync("no-read-flag-on-a-write", "w", With(HybridCacheEntryFlags.DisableDistributedCacheRead | HybridCacheEntryFlags.DisableLocalCacheRead));
        await writer.Hybrid.GetOrCreateAsync("loaded-memory-only", _ => ValueTask.FromResult("l"), With(HybridCacheEntryFlags.DisableDistributedCache));
        await writer.Hybrid.GetOrCreateAsync("uncompressed", _ => ValueTask.FromResult("u"), With(HybridCacheEntryFlags.DisableCompression));

        Assert.True(writer.InMemory("acme", "memory-only"));
        Assert.False((await reader.Cache.TryGetAsync<string>("memory-only")).HasValue);
        Assert.False(writer.InMemory("acme", "redis-only"));
        Assert.Equal("r", (await reader.Cache.TryGetAsync<string>("redis-only")).Value);
        Assert.Equal("w", (await reader.Cache.TryGetAsync<string>("no-read-flag-on-a-write")).Value); // a write reads nothing: written everywhere
        Assert.True(writer.InMemory("acme", "loaded-memory-only"));
        Assert.False((await reader.Cache.TryGetAsync<string>("loaded-memory-only")).HasValue);
        Assert.Equal("u", (await reader.Cache.TryGetAsync<string>("uncompressed")).Value);
    }

    /// <summary>"DisableLocalCacheWrite keeps no memory copy": on GetOrCreateAsync the loaded value goes to Redis only.</summary>
    [Fact]
    public async Task DisableLocalCacheWrite_on_a_load_keeps_the_value_in_Redis_only_and_memory_reads_still_apply()
    {
        var prefix = Unique.Prefix("hybrid", "no-local-write");
        await using var node = CacheNode.Create(redis.ConnectionString, prefix);
        await using var other = CacheNode.Create(redis.ConnectionString, prefix);
        using var scope = node.As("acme");
        var noLocalWrite = With(HybridCacheEntryFlags.DisableLocalCacheWrite);

        Assert.Equal("loaded", await node.Hybrid.GetOrCreateAsync("k", _ => ValueTask.FromResult("loaded"), noLocalWrite));
        Assert.False(node.InMemory("acme", "k"));
        using (other.As("acme"))
        {
            Assert.Equal((CacheSource.Redis, "loaded"), ToTuple(await other.Cache.TryGetAsync<string>("k")));
            await other.Cache.SetAsync("k", "changed");
        }

        Assert.Equal("changed", await node.Hybrid.GetOrCreateAsync("k", _ => ValueTask.FromResult("unexpected"), noLocalWrite));
        Assert.False(node.InMemory("acme", "k"));
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
